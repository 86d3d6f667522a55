"""One router per resource; ``api.app`` includes them all."""

from api.routes import datasets, docs, health, keys, results, scenarios

ROUTERS = [
    health.router,
    docs.router,
    scenarios.router,
    results.router,
    datasets.router,
    keys.router,
]
