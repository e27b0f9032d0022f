"""HTTP: the FastAPI app (search, documents, upload, admin, web page).

Calls the indexer only through its public API.
"""
