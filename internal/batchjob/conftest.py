"""The test Ray head (.ci/services.sh) for the pipeline tests: a module opts
in with pytestmark = pytest.mark.usefixtures("ray_module"). Skipped when the
test services are not running."""

import os
import pathlib
import sys

import pytest

HERE = pathlib.Path(__file__).parent
sys.path.insert(0, str(HERE))
sys.path.insert(1, str(HERE / "testscripts"))
if os.environ.get("RAYVLLM_TEST_GCS_ADDRESS"):
    # The test head runs with token auth; Ray reads the mode when it loads.
    os.environ.setdefault("RAY_AUTH_MODE", "token")


@pytest.fixture(scope="session")
def ray_cluster():
    addr = os.environ.get("RAYVLLM_TEST_GCS_ADDRESS")
    if not addr:
        pytest.skip("RAYVLLM_TEST_GCS_ADDRESS is not set: run .ci/services.sh start and source .tmp/services.env")
    ray = pytest.importorskip("ray")
    import standin

    standin.ship_modules()
    # S3 is moto's (the S3 tests); pyarrow reads the endpoint from the env.
    s3 = {k: os.environ[k] for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION") if k in os.environ}
    if os.environ.get("RAYVLLM_TEST_MOTO_URL"):
        os.environ["AWS_ENDPOINT_URL_S3"] = s3["AWS_ENDPOINT_URL_S3"] = os.environ["RAYVLLM_TEST_MOTO_URL"]
    ray.init(address=addr, log_to_driver=False, logging_level="ERROR", runtime_env={"env_vars": s3})
    ray.data.DataContext.get_current().enable_progress_bars = False
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def ray_module(ray_cluster, request):
    """The Ray head, with the requesting test module shipped by value too."""
    import standin

    standin.ship_modules(request.module)
