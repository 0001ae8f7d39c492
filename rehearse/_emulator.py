"""The AWS emulator: moto's server in this process, with IAM enforced and three seams.

moto 5.x provides the parts: S3, IAM, STS, Secrets Manager, KMS, ECS, Lambda's API and a Step
Functions interpreter (``execute_state_machine``) that runs the deployed definition. It checks
every signed request against the caller's identity policies once enforcement is on
(``settings.INITIAL_NO_AUTH_ACTION_COUNT``). What moto does not do, the seams here add:

- **Lambda invocations** (``LambdaSimpleBackend.invoke``, moto's Docker-free backend) are
  handed to a callback that runs the generated handler. The callback checks the state
  machine's role (``role_allows``): moto checks invocations against ``*`` under the
  operation's name, ``lambda:Invoke``, which no real policy names.
- **Secrets Manager** requests are checked against the secret's ARN (moto checks them against
  ``*``, so a policy scoped to one secret would deny everything).
- **SSE-KMS buckets**: reading or writing an object in a bucket whose default encryption is
  ``aws:kms`` needs ``kms:Decrypt`` / ``kms:GenerateDataKey`` on that key, as S3 asks KMS on
  the caller's behalf on AWS (moto encrypts without asking).
- **Child machines** (``states:startExecution.sync:2``): moto's interpreter (LocalStack's,
  without its casing of parameters and results) passes the state's ``StateMachineArn`` /
  ``Name`` / ``Input`` to boto3 as written, which refuses them; the seam gives boto3 its own
  names and gives the state AWS's (``Error``, ``Cause``, ``Status`` ... in the JSON a failed
  child puts in the state's cause). Each start is handed to a callback (``hooks.start``) that
  checks the starting machine's role: moto's interpreter signs as itself, not as the role.

Condition blocks of identity policies are not evaluated by moto (``kms:ViaService``,
``s3:prefix``), key policies are not enforced, and a bucket policy's ``Deny`` statements apply
without their conditions (the replay leaves conditional ones out and says so).
"""

from __future__ import annotations

import json
import os
import re
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["Emulator", "InvocationResult"]

STATES_ACCESS_KEY = ("ak", "sk")
"""The fixed credentials moto's Step Functions interpreter signs its own requests with."""


@dataclass(frozen=True, slots=True)
class InvocationResult:
    """What a handler run returned: the payload, or an error in Lambda's shape."""

    payload: Any
    error: bool = False


@dataclass
class _Hooks:
    invoke: Callable[[str, str, bytes], InvocationResult] | None = None
    start: Callable[[str, str], str | None] | None = None
    """(starting machine's ARN, started machine's ARN) -> why it is denied, or None."""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Emulator:
    """moto's server on 127.0.0.1 in this process; one account and region.

    Import this module in a process of its own: moto's state is global to the process.
    """

    def __init__(self, account: str, region: str) -> None:
        self.account = account
        self.region = region
        self.port = _free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.hooks = _Hooks()
        self._server: Any = None
        self._admin: tuple[str, str] | None = None

    # -- lifecycle --------------------------------------------------------------------------

    def start(self) -> None:
        # Read by moto when it answers and by its interpreter's own clients.
        os.environ["MOTO_ACCOUNT_ID"] = self.account
        os.environ["MOTO_PORT"] = str(self.port)
        from moto.core.config import default_user_config
        from moto.moto_server.threaded_moto_server import ThreadedMotoServer

        default_user_config["stepfunctions"] = {"execute_state_machine": True}
        default_user_config["lambda"] = {"use_docker": False}
        default_user_config["iam"] = {"load_aws_managed_policies": False}
        self._install_seams()
        import logging

        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        # the interpreter logs each failed state with its whole parse tree; the rehearsal
        # reports failures itself
        logging.getLogger("moto").setLevel(logging.CRITICAL)
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self._server.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    def enforce_iam(self) -> None:
        """From now on every request must be signed by a known principal and be allowed."""
        from moto import settings
        from moto.core.authorization import ActionAuthenticatorMixin

        settings.INITIAL_NO_AUTH_ACTION_COUNT = 0
        ActionAuthenticatorMixin.request_count = 0

    def relax_iam(self) -> None:
        from moto import settings

        settings.INITIAL_NO_AUTH_ACTION_COUNT = float("inf")

    # -- clients ----------------------------------------------------------------------------

    def client(self, service: str, credentials: dict[str, str] | None = None) -> Any:
        import boto3
        from botocore.config import Config  # type: ignore[import-untyped]

        keys = credentials or self.admin_credentials()
        return boto3.client(
            service,
            region_name=self.region,
            endpoint_url=self.endpoint,
            aws_access_key_id=keys["AccessKeyId"],
            aws_secret_access_key=keys["SecretAccessKey"],
            aws_session_token=keys.get("SessionToken"),
            config=Config(retries={"max_attempts": 1}),
        )

    def admin_credentials(self) -> dict[str, str]:
        if self._admin is None:
            return {"AccessKeyId": "AKIAGLACIERSETUP0000", "SecretAccessKey": "setup"}
        return {"AccessKeyId": self._admin[0], "SecretAccessKey": self._admin[1]}

    def create_admin(self) -> None:
        """The rehearsal's own principal (setup, seeding, reading results): allowed anything."""
        iam = self.client("iam")
        iam.create_user(UserName="glacier-rehearsal")
        iam.put_user_policy(
            UserName="glacier-rehearsal",
            PolicyName="everything",
            PolicyDocument=_allow_all(),
        )
        key = iam.create_access_key(UserName="glacier-rehearsal")["AccessKey"]
        self._admin = (key["AccessKeyId"], key["SecretAccessKey"])

    def create_states_principal(self) -> None:
        """The identity of moto's interpreter, which signs with fixed keys.

        It may call the APIs the definition uses; *what* it may invoke or start is decided by
        the state machine's role, checked by the callbacks (``role_allows``).
        """
        iam = self.client("iam")
        iam.create_user(UserName="glacier-rehearsal-states")
        iam.put_user_policy(
            UserName="glacier-rehearsal-states",
            PolicyName="interpreter",
            PolicyDocument=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Action": [
                                "lambda:Invoke",
                                "ecs:*",
                                "states:StartExecution",
                                "states:DescribeExecution",
                            ],
                            "Resource": "*",
                        }
                    ],
                }
            ),
        )
        iam.create_access_key(UserName="glacier-rehearsal-states")
        from moto.iam.models import iam_backends

        user = iam_backends[self.account]["aws"].get_user("glacier-rehearsal-states")
        user.access_keys[0].access_key_id, user.access_keys[0].secret_access_key = STATES_ACCESS_KEY

    # -- policy evaluation ------------------------------------------------------------------

    def role_allows(
        self,
        role_name: str,
        action: str,
        resource: str,
        tags: Mapping[str, str] | None = None,
    ) -> bool:
        """Whether the role's identity policies allow ``action`` on ``resource`` (moto's
        evaluator: an explicit deny wins, else any allow), the resource carrying ``tags``
        (what ``aws:ResourceTag/<key>`` conditions read)."""
        from moto.iam.access_control import IAMPolicy, PermissionResult
        from moto.iam.models import iam_backends

        backend = iam_backends[self.account]["aws"]
        context = {f"aws:ResourceTag/{key}": value for key, value in (tags or {}).items()}
        allowed = False
        for name in backend.list_role_policies(role_name):
            _, document = backend.get_role_policy(role_name, name)
            # moto counts a condition on a key the request lacks as met; IAM does not: a tag
            # the resource lacks is given as empty, which no StringEquals matches
            for key in set(re.findall(r'"(aws:ResourceTag/[^"]+)"', document)) - set(context):
                context[key] = ""
            result = IAMPolicy(document).is_action_permitted(
                action, resource, incoming_condition_values=context
            )
            if result == PermissionResult.DENIED:
                return False
            allowed = allowed or result == PermissionResult.PERMITTED
        return allowed

    # -- seams ------------------------------------------------------------------------------

    def _install_seams(self) -> None:
        emulator = self
        from moto.awslambda_simple.models import LambdaSimpleBackend

        def invoke(
            backend: Any,
            function_name: str,
            qualifier: str | None,
            body: Any,
            headers: Any,
            response_headers: Any,
        ) -> bytes:
            fn = backend.get_function(function_name, qualifier)
            hook = emulator.hooks.invoke
            assert hook is not None, "no invocation hook installed"
            data = body if isinstance(body, bytes) else str(body or "").encode()
            result = hook(fn.function_name, fn.function_arn, data)
            if result.error:
                response_headers["x-amz-function-error"] = "Unhandled"
            return json.dumps(result.payload).encode()

        LambdaSimpleBackend.invoke = invoke  # type: ignore[assignment,method-assign]
        self._install_secrets_seam()
        self._install_kms_seam()
        self._install_child_machine_seam()

    def _install_secrets_seam(self) -> None:
        from moto.secretsmanager.exceptions import SecretNotFoundException
        from moto.secretsmanager.models import secretsmanager_backends
        from moto.secretsmanager.responses import SecretsManagerResponse

        emulator = self

        def determine_resource(response: Any) -> str:
            try:
                secret_id = json.loads(response.body or "{}").get("SecretId")
            except ValueError:
                return "*"
            if not secret_id:
                return "*"
            backend = secretsmanager_backends[emulator.account][emulator.region]
            try:
                return str(backend.describe_secret(secret_id).arn)
            except SecretNotFoundException:  # moto answers ResourceNotFound itself
                return "*"

        SecretsManagerResponse._determine_resource = determine_resource  # type: ignore[attr-defined]

    def _install_kms_seam(self) -> None:
        from moto import settings
        from moto.core.authorization import ActionAuthenticatorMixin
        from moto.iam.access_control import S3IAMRequest
        from moto.s3.models import s3_backends
        from moto.s3.responses import S3Response

        emulator = self
        original = S3Response._authenticate_and_authorize_s3_action

        def authorize(
            response: Any, bucket_name: str | None = None, key_name: str | None = None
        ) -> None:
            original(response, bucket_name=bucket_name, key_name=key_name)
            enforced = (
                ActionAuthenticatorMixin.request_count >= settings.INITIAL_NO_AUTH_ACTION_COUNT
            )
            if not (enforced and bucket_name and key_name):
                return
            actions = {"GET": ["kms:Decrypt"], "PUT": ["kms:GenerateDataKey"]}
            wanted = actions.get(response.method)
            if not wanted:
                return
            key = emulator.bucket_kms_key(s3_backends, bucket_name)
            if key is None:
                return
            for action in wanted:
                request = S3IAMRequest(
                    account_id=response.current_account,
                    method=response.method,
                    path=response.raw_path,
                    data=response.data,
                    body=response.raw_body,
                    headers=response.headers,
                    action=action.split(":")[1],
                )
                request._action = action
                request.check_action_permitted(key)

        S3Response._authenticate_and_authorize_s3_action = authorize  # type: ignore[method-assign,assignment]

    def _install_child_machine_seam(self) -> None:
        from botocore.exceptions import ClientError  # type: ignore[import-untyped]
        from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
            state_task_service_sfn as sfn,
        )

        emulator = self
        service = sfn.StateTaskServiceSfn
        normalise_parameters = service._normalise_parameters
        evaluate = service._eval_service_task

        def parameters(
            task: Any,
            parameters: dict[str, Any],
            boto_service_name: str | None = None,
            service_action_name: str | None = None,
        ) -> None:
            normalise_parameters(task, parameters, boto_service_name, service_action_name)
            for key in list(parameters):  # StateMachineArn -> stateMachineArn, as boto3 names it
                parameters[key[:1].lower() + key[1:]] = parameters.pop(key)

        def response(
            task: Any,
            response: Any,
            boto_service_name: str | None = None,
            service_action_name: str | None = None,
        ) -> None:
            if isinstance(response, dict):  # executionArn -> ExecutionArn, as AWS gives it
                for key in list(response):
                    response[key[:1].upper() + key[1:]] = response.pop(key)

        def start(
            task: Any,
            env: Any,
            resource_runtime_part: Any,
            normalised_parameters: dict[str, Any],
            state_credentials: Any,
        ) -> Any:
            hook = emulator.hooks.start
            if hook is not None:
                starter = env.states.context_object.context_object_data["StateMachine"]["Id"]
                started = normalised_parameters.get("stateMachineArn")
                denied = hook(str(starter), str(started))
                if denied is not None:
                    error = {"Code": "AccessDenied", "Message": denied}
                    metadata = {"HTTPStatusCode": 400, "RequestId": "glacier-rehearsal"}
                    raise ClientError(
                        {"Error": error, "ResponseMetadata": metadata}, "StartExecution"
                    )
            return evaluate(
                task,
                env=env,
                resource_runtime_part=resource_runtime_part,
                normalised_parameters=normalised_parameters,
                state_credentials=state_credentials,
            )

        service._normalise_parameters = parameters  # type: ignore[method-assign,assignment]
        service._normalise_response = response  # type: ignore[method-assign,assignment]
        service._eval_service_task = start  # type: ignore[method-assign,assignment]

    def bucket_kms_key(self, backends: Any, bucket_name: str) -> str | None:
        """The ARN of the KMS key a bucket encrypts new objects with, or None."""
        from moto.s3.exceptions import MissingBucket

        try:
            bucket = backends[self.account]["aws"].get_bucket(bucket_name)
        except MissingBucket:
            return None
        rule = (bucket.encryption or {}).get("Rule") or {}
        if isinstance(rule, list):
            rule = rule[0] if rule else {}
        default = rule.get("ApplyServerSideEncryptionByDefault") or {}
        if default.get("SSEAlgorithm") != "aws:kms":
            return None
        key = default.get("KMSMasterKeyID")
        if not key:
            return None
        if key.startswith("arn:"):
            return str(key)
        return f"arn:aws:kms:{self.region}:{self.account}:key/{key}"


def _allow_all() -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
        }
    )
