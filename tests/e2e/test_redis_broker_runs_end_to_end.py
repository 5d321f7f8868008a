"""The same end-to-end run on the Redis broker: enqueued on commit, continued, completed."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator

import pytest
import redis
from django.conf import settings
from django_q.conf import Conf

from campaigns.models import BatchRun
from tests.e2e.processes import Processes
from tests.e2e.scenario import (
    Stopwatch,
    assert_sent_exactly_once,
    campaign_with,
    start_queued_run,
    wait_until_finished,
)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not settings.IS_POSTGRES, reason="end-to-end tests run on PostgreSQL"),
]

REDIS_URL = os.environ.get("REDIS_TEST_URL", "redis://127.0.0.1:6379/15")


@pytest.fixture
def redis_broker(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Point this process's django-q2 at Redis, as REDIS_URL does for a fresh process.

    Q_CLUSTER is read once, when django_q.conf is imported, so the setting cannot change
    here; django-q2's own tests patch ``Conf`` the same way.
    """
    connection = redis.Redis.from_url(REDIS_URL)
    try:
        connection.ping()
    except redis.ConnectionError:
        pytest.skip(f"no Redis at {REDIS_URL} (set REDIS_TEST_URL)")
    queue = f"django_q:{Conf.CLUSTER_NAME}:q"
    connection.delete(queue)  # tasks left by an earlier, interrupted session
    monkeypatch.setattr(Conf, "ORM", None)
    monkeypatch.setattr(Conf, "REDIS", REDIS_URL)
    try:
        yield REDIS_URL
    finally:
        connection.delete(queue)
        connection.close()


def test_a_run_on_the_redis_broker_is_driven_across_slices_to_completion(
    redis_broker: str, processes: Processes
) -> None:
    sandbox = processes.sandbox()
    cluster = processes.cluster(workers=2, REDIS_URL=redis_broker, SENDING_SLICE_SECONDS="2")
    queue = re.escape(f"[django_q:{Conf.CLUSTER_NAME}:q] running")
    cluster.wait_for_log("running on the Redis queue", re.compile(queue), timeout=10)
    campaign = campaign_with(30)

    clock = Stopwatch()
    run = start_queued_run(campaign, batch_size=5, delay_seconds=1)
    run = wait_until_finished(run.pk, timeout=40)
    print(f"Redis broker, 6 batches with 2 s slices: done in {clock.seconds():.1f} s")

    assert (run.status, run.sent_count, run.batches_done) == (BatchRun.Status.COMPLETED, 30, 6)
    ground = assert_sent_exactly_once(sandbox, campaign)
    assert ground.by_status == {"sent": 30}
    # Nothing went through the ORM queue: the test process and the cluster used Redis.
    from django_q.models import OrmQ

    assert not OrmQ.objects.exists()
