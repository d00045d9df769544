import pytest

from mutual.worker_process import start_worker, stop_worker


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_healthz_is_503_and_names_the_worker_when_none_runs(client):
    from mutual.celery import app

    assert app.control.ping(timeout=0.5) == [], "another worker is listening on the test queue"
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["redis"] == "ok"
    assert "worker" in body["checks"]["worker"]


@pytest.mark.worker
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_healthz_is_200_when_database_redis_and_a_worker_answer(client):
    worker = start_worker(concurrency=1, name="health")
    try:
        response = client.get("/healthz")
    finally:
        stop_worker(worker)
    assert response.status_code == 200, response.json()
    assert response.json() == {
        "healthy": True,
        "checks": {"database": "ok", "redis": "ok", "worker": "ok"},
    }
