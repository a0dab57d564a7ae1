"""Conversations persist in the workspace, with each reply's exact prompt and statistics."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from engine.raft.format import ANSWER_TAG, RaftAnswer, parse_answer
from engine.workspace import Workspace


@dataclass
class Message:
    id: int
    role: str
    content: str
    assistant_version: int | None = None
    prompt: dict = field(default_factory=dict)
    stats: dict = field(default_factory=dict)
    raft: RaftAnswer | None = None  # a RAFT adapter's reply, parsed (see Reply.raft)


@dataclass
class Conversation:
    id: int
    assistant: str | None
    title: str
    created_at: str


class Conversations:
    def __init__(self, workspace: Workspace):
        self.ws = workspace

    def create(self, assistant: str | None, title: str = "") -> Conversation:
        aid = None
        with self.ws.transaction() as db:
            if assistant:
                found = db.execute("SELECT id FROM assistants WHERE name = ?", (assistant,))
                row = found.fetchone()
                aid = row["id"] if row else None
            cid = db.execute(
                "INSERT INTO conversations(assistant_id, title) VALUES (?, ?)", (aid, title)
            ).lastrowid
        return self.get(cid)

    def get(self, cid: int) -> Conversation:
        row = self.ws.db.execute(
            "SELECT c.*, a.name AS assistant FROM conversations c "
            "LEFT JOIN assistants a ON a.id = c.assistant_id WHERE c.id = ?",
            (cid,),
        ).fetchone()
        return Conversation(row["id"], row["assistant"], row["title"], row["created_at"])

    def list(self, assistant: str | None = None) -> list[Conversation]:
        sql = (
            "SELECT c.*, a.name AS assistant FROM conversations c "
            "LEFT JOIN assistants a ON a.id = c.assistant_id"
        )
        args: tuple = ()
        if assistant:
            sql += " WHERE a.name = ?"
            args = (assistant,)
        rows = self.ws.db.execute(sql + " ORDER BY c.id DESC", args)
        return [Conversation(r["id"], r["assistant"], r["title"], r["created_at"]) for r in rows]

    def messages(self, cid: int) -> list[Message]:
        rows = self.ws.db.execute(
            "SELECT * FROM messages WHERE conversation_id = ? ORDER BY id", (cid,)
        )
        messages = []
        for r in rows:
            prompt = json.loads(r["prompt"]) if r["prompt"] else {}
            stats = json.loads(r["stats"]) if r["stats"] else {}
            messages.append(
                Message(
                    r["id"],
                    r["role"],
                    r["content"],
                    r["assistant_version"],
                    prompt,
                    stats,
                    _raft_answer(r["role"], r["content"], prompt),
                )
            )
        return messages

    def add(
        self,
        cid: int,
        role: str,
        content: str,
        assistant_version: int | None = None,
        prompt: dict | None = None,
        stats: dict | None = None,
    ) -> int:
        with self.ws.transaction() as db:
            if role == "user":
                row = db.execute("SELECT title FROM conversations WHERE id = ?", (cid,))
                if not row.fetchone()["title"]:
                    title = " ".join(content.split())[:60]
                    db.execute("UPDATE conversations SET title = ? WHERE id = ?", (title, cid))
            return db.execute(
                "INSERT INTO messages(conversation_id, role, content, assistant_version, prompt,"
                " stats) VALUES (?, ?, ?, ?, ?, ?)",
                (
                    cid,
                    role,
                    content,
                    assistant_version,
                    json.dumps(prompt) if prompt else None,
                    json.dumps(stats) if stats else None,
                ),
            ).lastrowid


def _raft_answer(role: str, content: str, prompt: dict) -> RaftAnswer | None:
    """The parsed RAFT answer saved with a reply. Replies saved before answers were parsed on
    the engine's side carry none: those ending in ``<ANSWER>:`` are read here, as the chat
    showed them then."""
    if "raft" in prompt:
        return RaftAnswer.from_dict(prompt["raft"]) if prompt["raft"] else None
    if role == "assistant" and ANSWER_TAG in content:
        return parse_answer(content, prompt.get("sources") or [])
    return None
