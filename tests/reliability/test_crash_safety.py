"""SIGKILL during a chat import and a sticker-folder import: the catalog stays consistent, nothing is
half-imported, and re-running the job completes it (more kill points in `make bench`: bench_crash)."""

import pytest

from tests.reliability.crash import crash_job


@pytest.mark.slow
@pytest.mark.parametrize("job", ["chat-import", "sticker-import"])
def test_sigkill_leaves_catalog_whole(tmp_path, job):
    result = crash_job(tmp_path, job, kill_points=3)
    assert result.failures == [], result.failures
    assert result.killed >= 1, "no run was actually killed mid-way; the job finished too fast to test"
    assert result.survived == result.tried
