"""RAFT (Zhang et al. 2024, "RAFT: Adapting Language Model to Domain Specific RAG"): training
data that teaches a model to answer from retrieved passages — find the right one among
distractors, quote it, and give a short answer — built from a knowledge base the user indexed.

A build has three stages, each visible and resumable:

1. **Drafts** (a background job, :mod:`engine.raft.drafting`): for every chosen chunk a local
   *writer* model writes questions it answers, and an answer that reasons from the chunk,
   quoting it between ``##begin_quote##`` and ``##end_quote##`` and ending with
   ``<ANSWER>: …``. Every quote is checked against the chunk; a draft whose quotes are not in it
   is dropped and counted. With ``reasoning="writer-or-extract"`` (the default) a draft whose
   model-written reasoning fails the check gets reasoning assembled from the chunk's sentence
   holding the answer instead, so a small writer still yields usable data. Drafts are appended
   to ``drafts.jsonl`` one chunk at a time, so a stopped or killed build continues where it
   stopped.
2. **Review**: the user reads and edits the drafts (quotes are re-checked on save).
3. **Save** (:mod:`engine.raft.examples`): each draft becomes an example — the question with
   the oracle chunk plus k distractors (random chunks, or hard negatives: the chunks the
   retriever ranks highest that are not the oracle), shuffled; in a fraction 1 − P the oracle is
   replaced by one more distractor. Saved are the RAFT dataset, the same questions without
   documents (the Level 4 comparison), and an evaluation set of held-out questions.

Served, a RAFT adapter sees exactly the training prompt (:mod:`engine.raft.format`): its system
prompt and the retrieved passages in ``<DOCUMENT>`` blocks before the question, and its reply
comes back parsed (:class:`engine.raft.format.RaftAnswer`).

The modules: ``format`` (the prompt and answer format, checks, parsing a reply), ``options``
(how a build is made), ``drafting`` (the writer's drafts), ``examples`` (drafts into training
rows and a held-out set), ``builds`` (the builds on disk, the three stages, and what the
Level 3/4/5 comparison — an evaluation run, :mod:`engine.evaluation.ladder` — runs on).
This package imports none of its modules here, so importing ``engine.raft.format`` loads only
the format.
"""
