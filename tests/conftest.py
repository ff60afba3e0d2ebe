from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

# Hypothesis profiles: "ci" is the default (fast, for 2 cores); "thorough" is selected with
# ASYNCLAMBDA_HYPOTHESIS_PROFILE=thorough for long local runs.
settings.register_profile(
    "ci", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "thorough", max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("dev", max_examples=20, deadline=None)
settings.load_profile(os.environ.get("ASYNCLAMBDA_HYPOTHESIS_PROFILE", "ci"))
