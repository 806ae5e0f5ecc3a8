"""Validates a rendered Serve deploy config with Ray's own Pydantic models.

Reads a ServeDeploySchema JSON document on stdin. Every application is
checked by ServeDeploySchema (serve/schema.py); the llm_configs of a
ray.serve.llm:build_openai_app application are also checked by LLMConfig
(llm/_internal/serve/core/configs/llm_config.py), which validates the
deployment_config against Serve's DeploymentConfig and the accelerator_type
against Ray's list. vLLM itself is not imported. Prints "ok" or the error
and exits 1.
"""

import json
import sys


def main() -> int:
    from ray.serve.schema import ServeDeploySchema
    from ray.llm._internal.serve.core.configs.llm_config import LLMConfig

    doc = json.load(sys.stdin)
    try:
        ServeDeploySchema.model_validate(doc)
        for app in doc["applications"]:
            if app.get("import_path") == "ray.serve.llm:build_openai_app":
                configs = app.get("args", {}).get("llm_configs")
                if not configs:
                    raise ValueError("application %s has no llm_configs" % app["name"])
                for c in configs:
                    LLMConfig.model_validate(c)
    except Exception as e:  # noqa: BLE001 - any rejection is the answer
        print("rejected: %s" % e)
        return 1
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
