"""The HTTP API for approval workflows (FastAPI). It validates, stores, queues and
serialises; every decision is made by ``allocator``."""
