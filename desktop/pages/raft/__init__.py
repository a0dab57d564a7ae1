"""Level 5: RAFT — training data built from a knowledge base (questions, the right passage among
distractors, quoted reasoning), trained on the Fine-tune page, served with the knowledge base,
and compared with Levels 3 and 4 on the held-out questions.

``page`` is the rung's page; each of its dialogs has a module of its own: ``build_dialog`` (a
new build's settings), ``review_dialog`` (read, edit and save the drafts) and ``ladder_dialog``
(the Level 3/4/5 comparison).
"""
