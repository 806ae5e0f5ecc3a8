"""Test fixture: importing this module fails, so a Serve app using it ends in DEPLOY_FAILED."""

raise RuntimeError("rayvllm fixture: deliberate import failure")
