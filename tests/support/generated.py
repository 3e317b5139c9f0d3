"""A generated compose project of realistic shape and size (the plan graph's stress case).

``generated_compose(50)``: three infrastructure services with healthchecks (db, cache,
queue), two migration jobs, a seed job with a pre_start hook, then tiers of long-running
services (each waiting on the infrastructure and the migrations, some on each other), and a
job per few services (cache warmers, smoke tests) waiting on them healthy.
"""

from __future__ import annotations

import yaml

_HEALTH = {"test": ["CMD", "true"], "interval": "1s", "retries": 3}


def generated_project(n: int = 50, image: str = "busybox:latest") -> dict:
    services: dict[str, dict] = {}
    for name in ("db", "cache", "queue"):
        services[name] = {"image": image, "command": ["sleep", "3600"],
                          "healthcheck": dict(_HEALTH)}
    services["migrate-schema"] = {"image": image, "restart": "no", "command": ["true"],
                                  "depends_on": {"db": {"condition": "service_healthy"}}}
    services["migrate-data"] = {"image": image, "restart": "no", "command": ["true"],
                                "depends_on": ["migrate-schema"],
                                "x-prefect": {"timeout": "10m"}}
    services["seed"] = {"image": image, "restart": "no", "command": ["true"],
                        "pre_start": [{"command": ["true"]}],
                        "depends_on": ["migrate-data"]}
    i = 0
    tiers = ("api", "worker", "web")
    while len(services) < n:
        tier = tiers[i % 3]
        name = f"{tier}-{i // 3 + 1}"
        deps: dict[str, dict] = {"migrate-data": {"condition": "service_completed_successfully"}}
        if tier == "api":
            deps["db"] = {"condition": "service_healthy"}
            deps["cache"] = {"condition": "service_started"}
        elif tier == "worker":
            deps["queue"] = {"condition": "service_healthy"}
            if i % 2:
                deps["seed"] = {"condition": "service_completed_successfully",
                                "required": False}
        else:
            deps[f"api-{i // 3 + 1}"] = {"condition": "service_healthy"}
        services[name] = {"image": image, "command": ["sleep", "3600"], "depends_on": deps,
                          "healthcheck": dict(_HEALTH)}
        if tier == "web" and len(services) < n:
            services[f"smoke-{i // 3 + 1}"] = {
                "image": image, "restart": "no", "command": ["true"],
                "depends_on": {name: {"condition": "service_healthy"}},
                "x-prefect": {"timeout": "1m"}}
        i += 1
    return {"name": "generated", "services": services}


def generated_compose(n: int = 50, image: str = "busybox:latest") -> str:
    return yaml.safe_dump(generated_project(n, image), sort_keys=False)
