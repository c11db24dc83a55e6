"""CloudFormation packages built from a customer's requirements (pure: no AWS, no I/O).

`build_package(requirements, org)` gives a `CFNPackage` of small, real templates:

- `network`: a VPC with the requirements' CIDR, a private subnet per availability zone (and a public one if asked,
  with an internet gateway), NAT gateways if asked, and an admin security group open only to the named networks.
- `security`: the customer-managed KMS key for data at rest (when `encryption_at_rest`), the audit-log bucket
  (encrypted, private, versioned) and an SSM parameter recording the security options and compliance frameworks.
- one template per service asked for (`s3`, `dynamodb`, `sqs`, `sns`, `lambda`, `rds`), each encrypted and private.

Templates depend on `security` (and `rds` on `network`) through `depends_on`; cross-stack values travel as
parameters filled from the upstream stack's outputs (`ParameterDefinition.from_output`). Every resource type here is
one moto's CloudFormation creates (moto/cloudformation/parsing.py), so the local stack deploys packages for real.
AWS::CloudTrail::Trail is not among them: the trail itself is the organisation trail of the management account,
and the guard-rail SCP keeps member accounts from stopping it; the package holds the bucket it writes to.

`content_digest(pkg)` is the sha256 of the canonical JSON (sorted keys) of the templates: what versioning keys on.
"""

from __future__ import annotations

import json
from typing import Any

from runtime.onboarding.models import (
    CFNPackage,
    CloudFormationTemplate,
    CustomerRequirements,
    OrganizationConfig,
    ParameterDefinition,
    canonical_digest,
)

FORMAT_VERSION = "2010-09-09"
ADMIN_PORTS = (22, 3389)  # SSH and RDP: the ports compliance.py forbids opening to the world


def content_digest(pkg: CFNPackage) -> str:
    """sha256 of the canonical JSON of the package's content: its templates (name, description, body, parameters,
    depends_on) and the regions they go to.

    The version, the stored digest and the requirements digest are not content: the same templates built from two
    wordings of the same requirements get the same version."""
    return canonical_digest({"templates": [t.model_dump(mode="json") for t in pkg.templates],
                             "regions": list(pkg.regions)})


def _template(name: str, description: str, resources: dict[str, Any], *, outputs: dict[str, Any] | None = None,
              parameters: list[ParameterDefinition] | None = None, depends_on: list[str] | None = None,
              conditions: dict[str, Any] | None = None) -> CloudFormationTemplate:
    params = parameters or []
    body: dict[str, Any] = {"AWSTemplateFormatVersion": FORMAT_VERSION, "Description": description}
    if params:
        body["Parameters"] = {
            p.name: {"Type": p.type, "Description": p.description}
            | ({"Default": p.default} if p.default is not None else {})
            for p in params
        }
    if conditions:
        body["Conditions"] = conditions
    body["Resources"] = resources
    if outputs:
        body["Outputs"] = {key: {"Value": value} for key, value in outputs.items()}
    return CloudFormationTemplate(name=name, description=description, body=body, parameters=params,
                                  depends_on=depends_on or [])


def _tags(req: CustomerRequirements, **extra: str) -> list[dict[str, str]]:
    return [{"Key": "aidlc:customer", "Value": req.customer_id}] + [{"Key": k, "Value": v} for k, v in extra.items()]


def network_template(req: CustomerRequirements) -> CloudFormationTemplate:
    net = req.infrastructure.networking
    private, public = net.subnet_cidrs()
    resources: dict[str, Any] = {
        "Vpc": {"Type": "AWS::EC2::VPC", "Properties": {
            "CidrBlock": net.vpc_cidr, "EnableDnsSupport": True, "EnableDnsHostnames": True,
            "Tags": _tags(req, Name=f"{req.customer_id}-vpc")}},
    }
    outputs: dict[str, Any] = {"VpcId": {"Ref": "Vpc"}, "VpcCidr": net.vpc_cidr}

    def az(i: int) -> dict[str, Any]:
        return {"Fn::Select": [str(i), {"Fn::GetAZs": ""}]}

    for i, cidr in enumerate(private):
        resources[f"PrivateSubnet{i}"] = {"Type": "AWS::EC2::Subnet", "Properties": {
            "VpcId": {"Ref": "Vpc"}, "CidrBlock": cidr, "AvailabilityZone": az(i), "MapPublicIpOnLaunch": False}}
    outputs["PrivateSubnetIds"] = {"Fn::Join": [",", [{"Ref": f"PrivateSubnet{i}"} for i in range(len(private))]]}
    if public:
        resources["InternetGateway"] = {"Type": "AWS::EC2::InternetGateway", "Properties": {}}
        resources["GatewayAttachment"] = {"Type": "AWS::EC2::VPCGatewayAttachment", "Properties": {
            "VpcId": {"Ref": "Vpc"}, "InternetGatewayId": {"Ref": "InternetGateway"}}}
        resources["PublicRouteTable"] = {"Type": "AWS::EC2::RouteTable", "Properties": {"VpcId": {"Ref": "Vpc"}}}
        resources["PublicDefaultRoute"] = {"Type": "AWS::EC2::Route", "DependsOn": "GatewayAttachment",
                                           "Properties": {"RouteTableId": {"Ref": "PublicRouteTable"},
                                                          "DestinationCidrBlock": "0.0.0.0/0",
                                                          "GatewayId": {"Ref": "InternetGateway"}}}
        for i, cidr in enumerate(public):
            resources[f"PublicSubnet{i}"] = {"Type": "AWS::EC2::Subnet", "Properties": {
                "VpcId": {"Ref": "Vpc"}, "CidrBlock": cidr, "AvailabilityZone": az(i), "MapPublicIpOnLaunch": False}}
            resources[f"PublicSubnet{i}Routes"] = {"Type": "AWS::EC2::SubnetRouteTableAssociation", "Properties": {
                "SubnetId": {"Ref": f"PublicSubnet{i}"}, "RouteTableId": {"Ref": "PublicRouteTable"}}}
        outputs["PublicSubnetIds"] = {"Fn::Join": [",", [{"Ref": f"PublicSubnet{i}"} for i in range(len(public))]]}
    for n in range(net.nat_gateways):
        resources[f"NatAddress{n}"] = {"Type": "AWS::EC2::EIP", "DependsOn": "GatewayAttachment",
                                       "Properties": {"Domain": "vpc"}}
        resources[f"NatGateway{n}"] = {"Type": "AWS::EC2::NatGateway", "Properties": {
            "AllocationId": {"Fn::GetAtt": [f"NatAddress{n}", "AllocationId"]}, "SubnetId": {"Ref": f"PublicSubnet{n}"}}}
    if net.nat_gateways:
        # One private route table per availability zone, through the NAT gateway of the same index (wrapping).
        for i in range(len(private)):
            resources[f"PrivateRouteTable{i}"] = {"Type": "AWS::EC2::RouteTable",
                                                  "Properties": {"VpcId": {"Ref": "Vpc"}}}
            resources[f"PrivateDefaultRoute{i}"] = {"Type": "AWS::EC2::Route", "Properties": {
                "RouteTableId": {"Ref": f"PrivateRouteTable{i}"}, "DestinationCidrBlock": "0.0.0.0/0",
                "NatGatewayId": {"Ref": f"NatGateway{i % net.nat_gateways}"}}}
            resources[f"PrivateSubnet{i}Routes"] = {"Type": "AWS::EC2::SubnetRouteTableAssociation", "Properties": {
                "SubnetId": {"Ref": f"PrivateSubnet{i}"}, "RouteTableId": {"Ref": f"PrivateRouteTable{i}"}}}
    admin = req.infrastructure.security.admin_ingress_cidrs
    if admin:
        resources["AdminSecurityGroup"] = {"Type": "AWS::EC2::SecurityGroup", "Properties": {
            "GroupDescription": "Administrative access from the named networks only",
            "VpcId": {"Ref": "Vpc"},
            "SecurityGroupIngress": [
                {"IpProtocol": "tcp", "FromPort": port, "ToPort": port,
                 **({"CidrIpv6": cidr} if ":" in cidr else {"CidrIp": cidr})}
                for cidr in admin for port in ADMIN_PORTS
            ]}}
        outputs["AdminSecurityGroupId"] = {"Ref": "AdminSecurityGroup"}
    return _template("network", f"{req.customer_id}: networking baseline", resources, outputs=outputs)


def security_template(req: CustomerRequirements) -> CloudFormationTemplate:
    sec = req.infrastructure.security
    resources: dict[str, Any] = {}
    outputs: dict[str, Any] = {}
    if sec.encryption_at_rest:
        resources["DataKey"] = {"Type": "AWS::KMS::Key", "Properties": {
            "Description": f"{req.customer_id}: data at rest", "EnableKeyRotation": True,
            "KeyPolicy": {"Version": "2012-10-17", "Statement": [{
                # AWS's default key policy: the account (through IAM) administers its own key.
                "Sid": "EnableIamPermissions", "Effect": "Allow",
                "Principal": {"AWS": {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}},
                "Action": "kms:*", "Resource": "*"}]}}}
        resources["DataKeyAlias"] = {"Type": "AWS::KMS::Alias", "Properties": {
            "AliasName": f"alias/{req.customer_id}-data", "TargetKeyId": {"Ref": "DataKey"}}}
        outputs["DataKeyArn"] = {"Fn::GetAtt": ["DataKey", "Arn"]}
    resources["AuditLogBucket"] = _bucket(req, {"Fn::GetAtt": ["DataKey", "Arn"]} if sec.encryption_at_rest else None)
    outputs["AuditLogBucketName"] = {"Ref": "AuditLogBucket"}
    options = sec.model_dump(mode="json") | {"compliance": [str(c) for c in req.compliance],
                                             "regions": list(req.infrastructure.regions)}
    resources["SecurityBaseline"] = {"Type": "AWS::SSM::Parameter", "Properties": {
        "Name": f"/aidlc/{req.customer_id}/security-baseline", "Type": "String",
        "Value": json.dumps(options, sort_keys=True, separators=(",", ":")),
        "Description": "The security options and compliance frameworks this account was provisioned for"}}
    return _template("security", f"{req.customer_id}: security baseline", resources, outputs=outputs)


def _bucket(req: CustomerRequirements, key: Any | None) -> dict[str, Any]:
    default = ({"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key} if key is not None else {"SSEAlgorithm": "AES256"})
    return {"Type": "AWS::S3::Bucket", "DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain", "Properties": {
        "BucketEncryption": {"ServerSideEncryptionConfiguration": [
            {"ServerSideEncryptionByDefault": default, "BucketKeyEnabled": key is not None}]},
        "PublicAccessBlockConfiguration": {"BlockPublicAcls": True, "BlockPublicPolicy": True,
                                           "IgnorePublicAcls": True, "RestrictPublicBuckets": True},
        "VersioningConfiguration": {"Status": "Enabled"},
        "OwnershipControls": {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]},
        "Tags": _tags(req)}}


def _key_parameter() -> ParameterDefinition:
    return ParameterDefinition(name="DataKeyArn", description="The customer-managed KMS key (security stack)",
                               from_output="security.DataKeyArn")


def _service_s3(req: CustomerRequirements, cmk: bool) -> dict[str, Any]:
    return {"DataBucket": _bucket(req, {"Ref": "DataKeyArn"} if cmk else None)}, {"BucketName": {"Ref": "DataBucket"}}


def _service_dynamodb(req: CustomerRequirements, cmk: bool):
    scaling = req.infrastructure.scaling
    props: dict[str, Any] = {
        "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"},
                                 {"AttributeName": "sk", "AttributeType": "S"}],
        "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        "BillingMode": scaling.dynamodb_billing,
        "SSESpecification": ({"SSEEnabled": True, "SSEType": "KMS", "KMSMasterKeyId": {"Ref": "DataKeyArn"}}
                             if cmk else {"SSEEnabled": True}),
        "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
        "Tags": _tags(req),
    }
    if scaling.dynamodb_billing == "PROVISIONED":
        props["ProvisionedThroughput"] = {"ReadCapacityUnits": scaling.read_capacity,
                                          "WriteCapacityUnits": scaling.write_capacity}
    resources = {"DataTable": {"Type": "AWS::DynamoDB::Table", "DeletionPolicy": "Retain",
                               "UpdateReplacePolicy": "Retain", "Properties": props}}
    return resources, {"TableName": {"Ref": "DataTable"}}


def _service_sqs(req: CustomerRequirements, cmk: bool):
    props = {"KmsMasterKeyId": {"Ref": "DataKeyArn"}} if cmk else {"SqsManagedSseEnabled": True}
    return ({"WorkQueue": {"Type": "AWS::SQS::Queue", "Properties": props | {"Tags": _tags(req)}}},
            {"QueueUrl": {"Ref": "WorkQueue"}, "QueueArn": {"Fn::GetAtt": ["WorkQueue", "Arn"]}})


def _service_sns(req: CustomerRequirements, cmk: bool):
    key = {"Ref": "DataKeyArn"} if cmk else "alias/aws/sns"
    return ({"EventsTopic": {"Type": "AWS::SNS::Topic", "Properties": {"KmsMasterKeyId": key,
                                                                      "Tags": _tags(req)}}},
            {"TopicArn": {"Ref": "EventsTopic"}})


def _service_lambda(req: CustomerRequirements, cmk: bool):
    scaling = req.infrastructure.scaling
    role = {"Type": "AWS::IAM::Role", "Properties": {
        "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]},
        "Policies": [{"PolicyName": "write-own-logs", "PolicyDocument": {"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": {"Fn::Sub": "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:"
                                    "/aws/lambda/*"}}]}}]}}
    function: dict[str, Any] = {"Type": "AWS::Lambda::Function", "Properties": {
        "Runtime": "python3.13", "Handler": "index.handler", "Role": {"Fn::GetAtt": ["FunctionRole", "Arn"]},
        "MemorySize": scaling.lambda_memory_mb, "Timeout": scaling.lambda_timeout_s,
        "Code": {"ZipFile": "def handler(event, context):\n    return {'ok': True}\n"},
        "Tags": _tags(req)}}
    if cmk:
        function["Properties"]["KmsKeyArn"] = {"Ref": "DataKeyArn"}
    return ({"FunctionRole": role, "Function": function},
            {"FunctionArn": {"Fn::GetAtt": ["Function", "Arn"]}, "RoleArn": {"Fn::GetAtt": ["FunctionRole", "Arn"]}})


def _service_rds(req: CustomerRequirements, cmk: bool):
    scaling = req.infrastructure.scaling
    props: dict[str, Any] = {
        "Engine": "postgres", "DBInstanceClass": scaling.db_instance_class,
        "AllocatedStorage": str(scaling.db_allocated_storage_gb), "MasterUsername": "dbadmin",
        "ManageMasterUserPassword": True, "StorageEncrypted": True, "PubliclyAccessible": False,
        "DBSubnetGroupName": {"Ref": "DbSubnets"}, "BackupRetentionPeriod": 7, "DeletionProtection": False,
        "Tags": _tags(req),
    }
    if cmk:
        props["KmsKeyId"] = {"Ref": "DataKeyArn"}
    resources = {
        "DbSubnets": {"Type": "AWS::RDS::DBSubnetGroup", "Properties": {
            "DBSubnetGroupDescription": f"{req.customer_id}: private subnets",
            "SubnetIds": {"Ref": "PrivateSubnetIds"}}},
        "Database": {"Type": "AWS::RDS::DBInstance", "DeletionPolicy": "Snapshot",
                     "UpdateReplacePolicy": "Snapshot", "Properties": props},
    }
    return resources, {"DatabaseEndpoint": {"Fn::GetAtt": ["Database", "Endpoint.Address"]}}


# Which resource types each service key provisions (property 7 checks the package against this).
SERVICE_RESOURCES: dict[str, tuple[str, ...]] = {
    "s3": ("AWS::S3::Bucket",),
    "dynamodb": ("AWS::DynamoDB::Table",),
    "sqs": ("AWS::SQS::Queue",),
    "sns": ("AWS::SNS::Topic",),
    "lambda": ("AWS::IAM::Role", "AWS::Lambda::Function"),
    "rds": ("AWS::RDS::DBSubnetGroup", "AWS::RDS::DBInstance"),
}
_BUILDERS = {"s3": _service_s3, "dynamodb": _service_dynamodb, "sqs": _service_sqs, "sns": _service_sns,
             "lambda": _service_lambda, "rds": _service_rds}


def service_template(req: CustomerRequirements, service: str) -> CloudFormationTemplate:
    cmk = req.infrastructure.security.encryption_at_rest
    resources, outputs = _BUILDERS[service](req, cmk)
    params = [_key_parameter()] if cmk else []
    depends = ["security"] if cmk else []
    if service == "rds":
        params.append(ParameterDefinition(name="PrivateSubnetIds", type="List<AWS::EC2::Subnet::Id>",
                                          description="The private subnets (network stack)",
                                          from_output="network.PrivateSubnetIds"))
        depends = ["network", *depends]
    return _template(f"service-{service}", f"{req.customer_id}: {service}", resources, outputs=outputs,
                     parameters=params, depends_on=depends)


def build_package(requirements: CustomerRequirements, org: OrganizationConfig | None = None) -> CFNPackage:
    """The package for these requirements: network, security, then one template per service, in that order.

    `org` must be the same customer's (its accounts are where the package goes; the templates do not vary by
    account). Deterministic: the same requirements always give the same templates, hence the same digest."""
    if org is not None and org.customer_id != requirements.customer_id:
        raise ValueError(
            f"org.customer_id {org.customer_id!r} is not the requirements' customer_id {requirements.customer_id!r}"
        )
    templates = [network_template(requirements), security_template(requirements)]
    templates += [service_template(requirements, s) for s in requirements.infrastructure.services]
    return CFNPackage(customer_id=requirements.customer_id, templates=templates,
                      requirements_digest=requirements.digest(), regions=list(requirements.infrastructure.regions))
