"""The onboarding workflows' package bucket in the program (issue 13 item 7, first part): versioned, SSE-KMS with a
customer-managed key that rotates, public access blocked, kept on destroy; and every infra check passes on it."""

from __future__ import annotations

from components.checks import run_checks
from components.mockrun import Recording


def test_the_package_bucket_is_versioned_kms_encrypted_private_and_kept(dev_stack: Recording) -> None:
    bucket = dev_stack.named("onboarding-packages")
    assert not bucket.inputs.get("forceDestroy")  # no force-destroy: `pulumi destroy` cannot delete a bucket that still holds packages
    key = dev_stack.named("onboarding-packages-key")
    assert key.inputs["enableKeyRotation"] is True and key.inputs["deletionWindowInDays"] == 30
    versioning = dev_stack.named("onboarding-packages-versioning")
    assert versioning.inputs["bucket"] == bucket.id
    assert versioning.inputs["versioningConfiguration"]["status"] == "Enabled"
    [rule] = dev_stack.named("onboarding-packages-encryption").inputs["rules"]
    assert rule["applyServerSideEncryptionByDefault"] == {"sseAlgorithm": "aws:kms", "kmsMasterKeyId": key.state["arn"]}
    assert rule["bucketKeyEnabled"] is True
    block = dev_stack.named("onboarding-packages-no-public-access")
    assert all(block.inputs[s] for s in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls",
                                         "restrictPublicBuckets"))
    assert dev_stack.named("onboarding").type == "aidlc:index:Onboarding"


def test_the_checks_catch_a_package_bucket_left_unencrypted_or_public(dev_stack: Recording) -> None:
    """The checks pass on the program as written and fail on the same program with the bucket's encryption or its
    public access block removed (so the first assertion is not vacuous)."""
    assert all(found == [] for found in run_checks(dev_stack).values())
    for name, check in (("onboarding-packages-encryption", "encryption_at_rest"),
                        ("onboarding-packages-no-public-access", "no_public_s3")):
        broken = Recording([r for r in dev_stack.resources if r.name != name])
        found = run_checks(broken)[check]
        assert [v.resource for v in found] == ["onboarding-packages"], found


def _policy(dev_stack: Recording, name: str) -> list[dict]:
    from components.mockrun import statements_of

    return statements_of(dev_stack.named(name).inputs["policy"])


def test_the_workflow_functions_are_durable_python313_published_and_wired(dev_stack: Recording) -> None:
    """Both workflows are Lambda durable functions on python3.13 with durable_config, published (executions start
    on a version), each with the environment its declaration derives; onboarding, the API and Slack name the
    published versions they start."""
    import json

    from runtime.resources import WORKFLOW_FUNCTIONS, Env

    functions = {f.logical_name: dev_stack.named(f"workflows-{f.logical_name.replace('_', '-')}-fn")
                 for f in WORKFLOW_FUNCTIONS}
    for logical, fn in functions.items():
        declared = next(f for f in WORKFLOW_FUNCTIONS if f.logical_name == logical)
        assert fn.inputs["runtime"] == "python3.13" and fn.inputs["publish"] is True
        assert fn.inputs["handler"] == declared.handler
        assert fn.inputs["durableConfig"] == {"executionTimeout": 7 * 24 * 3600, "retentionPeriod": 30}
        env = fn.inputs["environment"]["variables"]
        assert set(env) <= set(declared.environment_names())
        assert {"WORKFLOWS_TABLE", "AUDIT_TABLE", "PACKAGE_BUCKET", Env.ACCESS_ROLE_NAME} <= set(env)
        assert env["PACKAGE_BUCKET"] == dev_stack.named("onboarding-packages").state["bucket"]
    provisioning = functions["provisioning_workflow"].state["qualifiedArn"]
    assert provisioning.endswith(":1")
    assert json.loads(functions["onboarding_workflow"].inputs["environment"]["variables"][Env.WORKFLOW_FUNCTIONS]) \
        == {"provisioning": provisioning}
    for caller in ("pipeline-api-fn", "pipeline-slack-fn"):
        started = json.loads(dev_stack.named(caller).inputs["environment"]["variables"][Env.WORKFLOW_FUNCTIONS])
        assert started == {"provisioning": provisioning,
                           "onboarding": functions["onboarding_workflow"].state["qualifiedArn"]}


def test_the_workflow_roles_are_scoped(dev_stack: Recording) -> None:
    """Organizations only in this account's organisation (or `*` where IAM has no resource type, SCP-only where it
    can be), the access role assumed in member accounts of our organisation only, checkpoints on the function's
    own executions, no CloudFormation action (it runs as the access role there), packages written by onboarding
    only; the API and Slack may start and answer the workflows, nothing more."""
    onboarding = {s["Sid"]: s for s in _policy(dev_stack, "workflows-onboarding-workflow-policy")}
    provisioning = {s["Sid"]: s for s in _policy(dev_stack, "workflows-provisioning-workflow-policy")}
    tree = onboarding["OrganizationTree"]["Resource"]
    assert all(r.startswith("arn:aws:organizations::123456789012:") for r in tree)
    assert onboarding["ServiceControlPoliciesOnly"]["Condition"] == {
        "StringEquals": {"organizations:PolicyType": "SERVICE_CONTROL_POLICY"}}
    assert not any(a.startswith("organizations:") for s in provisioning.values() for a in s["Action"])
    assume = provisioning["AssumeOrganizationAccessRole"]
    assert assume["Resource"] == ["arn:aws:iam::*:role/OrganizationAccountAccessRole"]
    assert assume["Condition"]["StringNotEquals"] == {"aws:ResourceAccount": "123456789012"}
    assert "AssumeOrganizationAccessRole" not in onboarding
    assert provisioning["ReadPackages"]["Action"] == ["s3:GetObject"] and "UsePackages" not in provisioning
    assert onboarding["StartWorkflows"]["Resource"] == [
        dev_stack.named("workflows-provisioning-workflow-fn").state["arn"] + ":*"]
    for logical in ("onboarding", "provisioning"):
        [durable] = _policy(dev_stack, f"workflows-{logical}-workflow-durable-policy")
        fn = dev_stack.named(f"workflows-{logical}-workflow-fn").state["arn"]
        assert durable["Resource"] == [f"{fn}:*/durable-execution/*"]
        assert durable["Action"] == ["lambda:CheckpointDurableExecution", "lambda:GetDurableExecutionState"]
    for statements in (onboarding, provisioning):
        assert not any(a.startswith("cloudformation:") for s in statements.values() for a in s["Action"])
    api = {s["Sid"]: s for s in _policy(dev_stack, "pipeline-api-policy")}
    assert api["AnswerWorkflowCallbacks"]["Action"] == ["lambda:SendDurableExecutionCallbackSuccess"]
    assert "StartWorkflows" not in {s["Sid"] for s in _policy(dev_stack, "pipeline-webhook-policy")}


def test_the_access_role_comes_from_the_stack_config(dev_stack: Recording) -> None:
    from tests.infra.conftest import run_dev

    other = run_dev({"aidlc:accessRoleName": "AidlcProvisioner"})
    [assume] = [s for s in _policy(other, "workflows-provisioning-workflow-policy")
                if s["Sid"] == "AssumeOrganizationAccessRole"]
    assert assume["Resource"] == ["arn:aws:iam::*:role/AidlcProvisioner"]
    env = other.named("workflows-provisioning-workflow-fn").inputs["environment"]["variables"]
    assert env["AIDLC_ACCESS_ROLE_NAME"] == "AidlcProvisioner"


def test_the_workflows_are_alarmed_on(dev_stack: Recording) -> None:
    """Failures and throttles of each workflow function, critical halts of each workflow kind and each circuit
    breaker opening, all to the alarm topic; the functions' error rates are Monitoring's like every function's."""
    from runtime.onboarding.workflows.resilience import SERVICES

    topic = dev_stack.named("monitoring-alarms").state["arn"]
    alarms = {r.name: r.inputs for r in dev_stack.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")
              if r.name.startswith("workflow-alarms-")}
    expected = {f"workflow-alarms-{k}" for k in (
        "onboarding-workflow-failed", "onboarding-workflow-throttled", "onboarding-critical",
        "provisioning-workflow-failed", "provisioning-workflow-throttled", "provisioning-critical",
        *(f"breaker-{s}-open" for s in SERVICES))}
    assert set(alarms) == expected
    assert all(a["alarmActions"] == [topic] for a in alarms.values())
    assert alarms["workflow-alarms-breaker-s3-open"]["metricName"] == "WorkflowCircuitOpen"
    assert alarms["workflow-alarms-provisioning-critical"]["dimensions"] == {"WorkflowKind": "provisioning"}
    assert {"monitoring-onboarding-workflow-error-rate", "monitoring-provisioning-workflow-error-rate"} <= {
        r.name for r in dev_stack.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")}


def test_the_checks_catch_an_unscoped_workflow_grant(dev_stack: Recording) -> None:
    """The least-privilege and IAM-database checks pass on the workflow roles and fail when an Organizations
    statement is widened to every action or to a resource type the action does not have."""
    import copy
    import json

    assert all(found == [] for found in run_checks(dev_stack).values())
    broken = copy.deepcopy(dev_stack)
    policy = broken.named("workflows-onboarding-workflow-policy")
    statements = json.loads(policy.inputs["policy"])
    for st in statements["Statement"]:
        if st["Sid"] == "OrganizationTree":
            st["Action"] = ["organizations:*"]
        if st["Sid"] == "ManageServiceControlPolicies":
            st["Resource"] = ["*"]
    policy.inputs["policy"] = json.dumps(statements)
    found = run_checks(broken)
    assert {v.resource for v in found["least_privilege"]} == {"workflows-onboarding-workflow-policy"}
    assert len(found["least_privilege"]) == 2
