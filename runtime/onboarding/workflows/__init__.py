"""The onboarding and provisioning workflows as Lambda durable functions (issue 13, seed 003's orchestrator).

`onboarding` and `provisioning` are the two `@durable_execution` handlers; `engine` starts, follows, approves,
cancels and resumes them (locally through the durable SDK's testing runner, in AWS through Lambda); `state` keeps
each workflow's `WorkflowState` and checkpoints in the workflows table; `resilience` holds the retry configuration,
the circuit breakers and the critical-error alerts; `inputs` validates what starting a workflow takes. Importing
this package has no side effects.
"""
