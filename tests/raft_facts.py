# ruff: noqa: E501 - one fact or question per line reads best
"""A tiny knowledge base of made-up facts (nothing a model could know) and the questions a
reviewer writes about each passage: the RAFT tests' data."""

from pathlib import Path

FACTS = {
    "zebra.md": "The Zebra protocol uses port 7431. The Zebra protocol was designed by Marguerite Okafor in 2011. The Zebra protocol replaced the older Giraffe protocol.",
    "mascot.md": "Tailor's mascot is a blue heron named Pemberton. Pemberton wears a yellow scarf in every drawing.",
    "lamp.md": "The Quasar lamp costs 39 euros. The Quasar lamp is made in the town of Vellmar. The bulb of the Quasar lamp lasts 9000 hours.",
    "cafeteria.md": "The cafeteria at Orbis Labs serves lentil soup every Thursday. The cafeteria at Orbis Labs serves fish tacos on Fridays.",
    "mountain.md": "Mount Elvander is 4210 metres high. Mount Elvander was first climbed in 1898 by a team led by Ida Brun.",
    "river.md": "The river Soll flows through the city of Kettering Vale. The river Soll empties into Lake Amund after 212 kilometres.",
    "fleet.md": "The Orbis delivery fleet has 14 electric vans. Each Orbis van is named after a moon of Jupiter.",
    "garden.md": "The rooftop garden of the Vellmar library grows 37 kinds of tomato. The rooftop garden is tended by a robot called Sprout.",
}
QA = {
    "zebra.md": [
        ("Which port does the Zebra protocol use?", "7431"),
        ("Who designed the Zebra protocol?", "Marguerite Okafor"),
        ("Which protocol did the Zebra protocol replace?", "the older Giraffe protocol"),
        ("In which year was the Zebra protocol designed?", "2011"),
        ("What port number is used by the Zebra protocol?", "7431"),
    ],
    "mascot.md": [
        ("What is Tailor's mascot?", "a blue heron named Pemberton"),
        ("What does Pemberton wear in every drawing?", "a yellow scarf"),
        ("What is the name of Tailor's mascot?", "Pemberton"),
        ("What colour is the heron that is Tailor's mascot?", "blue"),
        ("What kind of bird is Tailor's mascot?", "a blue heron"),
    ],
    "lamp.md": [
        ("How much does the Quasar lamp cost?", "39 euros"),
        ("Where is the Quasar lamp made?", "the town of Vellmar"),
        ("How long does the Quasar lamp's bulb last?", "9000 hours"),
        ("What is the price of the Quasar lamp?", "39 euros"),
        ("In which town is the Quasar lamp made?", "Vellmar"),
    ],
    "cafeteria.md": [
        ("What does the Orbis Labs cafeteria serve on Thursdays?", "lentil soup"),
        ("What does the cafeteria serve on Fridays?", "fish tacos"),
        ("When does the cafeteria serve lentil soup?", "every Thursday"),
        ("Which soup does the Orbis Labs cafeteria serve?", "lentil soup"),
        ("On which day are fish tacos served?", "on Fridays"),
    ],
    "mountain.md": [
        ("How high is Mount Elvander?", "4210 metres"),
        ("When was Mount Elvander first climbed?", "1898"),
        ("Who led the first climb of Mount Elvander?", "Ida Brun"),
        ("What is the height of Mount Elvander?", "4210 metres"),
        ("In which year did Ida Brun's team climb Mount Elvander?", "1898"),
    ],
    "river.md": [
        ("Which city does the river Soll flow through?", "Kettering Vale"),
        ("Into which lake does the river Soll empty?", "Lake Amund"),
        ("How long is the river Soll before it reaches the lake?", "212 kilometres"),
        ("Where does the river Soll end?", "Lake Amund"),
        ("Through which city does the Soll flow?", "Kettering Vale"),
    ],
    "fleet.md": [
        ("How many electric vans does the Orbis fleet have?", "14"),
        ("What is each Orbis van named after?", "a moon of Jupiter"),
        ("What kind of vans does the Orbis fleet use?", "electric vans"),
        ("How many vans are in the Orbis delivery fleet?", "14"),
        ("After what are the Orbis vans named?", "a moon of Jupiter"),
    ],
    "garden.md": [
        ("How many kinds of tomato grow in the rooftop garden?", "37"),
        ("Who tends the rooftop garden of the Vellmar library?", "a robot called Sprout"),
        ("What is the robot that tends the rooftop garden called?", "Sprout"),
        ("Where is the rooftop garden with 37 kinds of tomato?", "the Vellmar library"),
        ("How many tomato varieties does the Vellmar library garden grow?", "37"),
    ],
}


def build(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for name, text in FACTS.items():
        (root / name).write_text(text + "\n", encoding="utf-8")
    return root


def reviewed_drafts(chunks) -> list:
    """What a reviewer leaves: the questions of :data:`QA`, each on the chunk of its file,
    with reasoning quoting that chunk's sentence holding the answer."""
    from engine.raft.drafting import RaftDraft, extract_reasoning

    by_file = {Path(c.source).name: c for c in chunks}
    return [
        RaftDraft(
            by_file[f].id,
            by_file[f].source,
            q,
            a,
            extract_reasoning(a, by_file[f].text),
            "extract",
        )
        for f, pairs in QA.items()
        for q, a in pairs
    ]
