"""Onboarding and provisioning (seed 003, issue 13): a customer's AWS organisation and CloudFormation packages.

The folder follows the flow. `models` holds the contracts (requirements, organisation plan, packages, deployment
results, workflow state, error classes). `packages` builds a package's templates from the requirements and computes
its content digest; `compliance` validates it (cfn-lint plus our own rules, each with its reason); `package_store`
keeps packages immutably in S3, versioned by content; `customer_data` keeps the requirements encrypted with a
customer-managed KMS key. `aws`, `aws_audit`, `organizations` and `stacks` reach AWS (audited clients, OUs, accounts,
SCPs, stacks), `tools` exposes all of it to the agents as typed tools, and `workflows/` runs onboarding and
provisioning as durable functions. Importing this package has no side effects.
"""
