"""The runtime's asynchronous invocation agrees with an independent model of Lambda's policy.

Fast in CI; ASYNCLAMBDA_HYPOTHESIS_PROFILE=thorough runs many more and longer programs.
"""

from __future__ import annotations

import os

from hypothesis import settings

from asynclambda.testing.state_machines import AsyncInvocationMachine

THOROUGH = os.environ.get("ASYNCLAMBDA_HYPOTHESIS_PROFILE") == "thorough"

TestAsyncInvocation = AsyncInvocationMachine.TestCase
TestAsyncInvocation.settings = settings(
    max_examples=400 if THOROUGH else 25,
    stateful_step_count=40 if THOROUGH else 20,
    deadline=None,
)
