"""Knowledge bases (Level 3): parse folders, chunk, embed, store in LanceDB, retrieve hybrid."""
