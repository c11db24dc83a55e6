"""StackService against moto's CloudFormation in a member account: preview, deploy, progress, verify, rollback.

The failing deployments use a resource moto refuses (a subnet of a VPC that does not exist): moto then fails the
executing call, leaves the stack CREATE_IN_PROGRESS and never rolls back, so the rollback is ours."""

from __future__ import annotations

import pytest

from runtime.onboarding.aws import AwsClients
from runtime.onboarding.models import CFNPackage, CloudFormationTemplate, DeploymentStatus
from runtime.onboarding.stacks import StackService, deployment_status, stack_name_for

QUEUE = CloudFormationTemplate(name="queue", body={
    "Resources": {"Queue": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "acme-work"}}},
    "Outputs": {"QueueArn": {"Value": {"Fn::GetAtt": ["Queue", "Arn"]}}}})
DATA = CloudFormationTemplate(name="data", body={"Resources": {
    "Bucket": {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": "acme-data-bucket"}},
    "Table": {"Type": "AWS::DynamoDB::Table", "Properties": {
        "BillingMode": "PAY_PER_REQUEST", "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
        "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}]}}}})
REFUSED = {"Type": "AWS::EC2::Subnet", "Properties": {"VpcId": "vpc-00000000000000000", "CidrBlock": "10.0.0.0/24"}}
BROKEN = CloudFormationTemplate(name="broken", body={"Resources": {
    "Bucket": {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": "acme-broken-bucket"}},
    "Subnet": {**REFUSED, "DependsOn": "Bucket"}}})


@pytest.fixture
def stacks(aws, organization):
    org, _ = organization
    member = org.create_account(AccountName="m", Email="m@acme.example")["CreateAccountStatus"]["AccountId"]
    return StackService(AwsClients(region="us-east-1").for_account(member), "us-east-1")


def test_change_set_preview_then_deploy_then_verify(stacks):
    preview = stacks.create_change_set("data", DATA)
    assert preview.change_set_type == "CREATE" and sorted(c.logical_id for c in preview.changes) == ["Bucket", "Table"]
    assert stacks.create_change_set("data", DATA).change_set_name == preview.change_set_name  # found again
    result = stacks.deploy("data", DATA)
    assert result.status == DeploymentStatus.SUCCEEDED and result.resources_created == ["Bucket", "Table"]
    assert result.account_id == stacks.account_id != "123456789012"
    report = stacks.verify("data", DATA)
    assert report.ok and {c.detail for c in report.checks} == {"bucket found", "table ACTIVE"}
    assert stacks.deploy("data", DATA).status == DeploymentStatus.SUCCEEDED  # a re-run: nothing new
    assert stacks.cfn.list_change_sets(StackName="data")["Summaries"][:1]  # one change set, not two
    update = stacks.create_change_set("data", CloudFormationTemplate(name="data", body={"Resources": {
        **DATA.body["Resources"], "Queue": {"Type": "AWS::SQS::Queue"}}}))
    assert update.change_set_type == "UPDATE" and [c.action for c in update.changes] == ["Add"]


def test_outputs_are_there_after_a_change_set_deploy(stacks):
    stacks.deploy("queue", QUEUE)
    assert stacks.outputs("queue")["QueueArn"].endswith(":acme-work")


def test_verify_reports_a_resource_deleted_behind_the_stack(stacks):
    stacks.deploy("data", DATA)
    stacks.client("s3").delete_bucket(Bucket="acme-data-bucket")
    report = stacks.verify("data", DATA)
    assert not report.ok and report.missing == ["Bucket"]
    extra = CloudFormationTemplate(name="data", body={"Resources": {**DATA.body["Resources"],
                                                                   "Other": {"Type": "AWS::SQS::Queue"}}})
    assert "Other" in stacks.verify("data", extra).missing  # in the template, never made


def test_a_refused_resource_fails_the_deploy_and_the_delete_rolls_it_back(stacks):
    result = stacks.deploy("broken", BROKEN)
    assert result.status == DeploymentStatus.FAILED and result.error.code == "InvalidVpcID.NotFound"
    assert result.resources_failed == ["Bucket", "Subnet"] and result.error.error_class == "permanent"
    progress = stacks.progress("broken", BROKEN)
    assert progress.status == DeploymentStatus.FAILED and progress.terminal and progress.percentage < 100
    assert "acme-broken-bucket" in [b["Name"] for b in stacks.client("s3").list_buckets()["Buckets"]]  # half made
    rolled = stacks.rollback("broken")
    assert rolled.status == DeploymentStatus.ROLLED_BACK and rolled.resources_failed == []
    assert stacks.stack("broken") is None
    assert stacks.client("s3").list_buckets()["Buckets"] == []  # the half-made bucket went with it
    assert stacks.rollback("broken").status == DeploymentStatus.ROLLED_BACK  # a re-run: nothing left to do


def test_a_failed_update_is_rolled_back_to_the_previous_template(stacks):
    stacks.deploy("queue", QUEUE)
    worse = CloudFormationTemplate(name="queue", body={"Resources": {**QUEUE.body["Resources"], "Subnet": REFUSED}})
    failed = stacks.deploy("queue", worse)
    assert failed.status == DeploymentStatus.FAILED
    back = stacks.rollback("queue", QUEUE)
    assert back.status == DeploymentStatus.ROLLED_BACK and back.resources_created == ["Queue"]
    assert stacks.verify("queue", QUEUE).ok


def test_deploy_package_in_dependency_order_with_cross_stack_parameters(stacks):
    consumer = CloudFormationTemplate(
        name="consumer", depends_on=["queue"],
        body={"Parameters": {"QueueArn": {"Type": "String"}},
              "Resources": {"Topic": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": {"Fn::Select": [
                  5, {"Fn::Split": [":", {"Ref": "QueueArn"}]}]}}}}},
        parameters=[{"name": "QueueArn", "from_output": "queue.QueueArn"}])
    package = CFNPackage(customer_id="acme", templates=[consumer, QUEUE], requirements_digest="sha256:" + "0" * 64)
    results = stacks.deploy_package(package)
    assert [r.stack_name for r in results] == [stack_name_for("acme", "queue"), stack_name_for("acme", "consumer")]
    assert all(r.status == DeploymentStatus.SUCCEEDED for r in results)
    params = stacks.stack(stack_name_for("acme", "consumer"))["Parameters"]
    assert params[0]["ParameterValue"].endswith(":acme-work")


def test_stack_statuses_map_to_deployment_statuses():
    assert deployment_status("CREATE_COMPLETE") == deployment_status("UPDATE_COMPLETE") == DeploymentStatus.SUCCEEDED
    assert deployment_status("ROLLBACK_COMPLETE") == DeploymentStatus.FAILED  # AWS's own rollback of a failed create
    assert deployment_status("UPDATE_ROLLBACK_IN_PROGRESS") == DeploymentStatus.ROLLING_BACK
    assert deployment_status("DELETE_FAILED") == DeploymentStatus.ROLLBACK_FAILED
    assert deployment_status("CREATE_IN_PROGRESS") == DeploymentStatus.IN_PROGRESS
    assert deployment_status("REVIEW_IN_PROGRESS") == DeploymentStatus.PENDING


def test_progress_of_a_missing_stack_is_a_clear_error(stacks):
    with pytest.raises(LookupError, match="no stack 'nope'"):
        stacks.progress("nope")
