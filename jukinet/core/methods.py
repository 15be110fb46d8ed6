"""The gRPC services and method paths juki-net serves, taken from the generated descriptors.

The one source of method paths: the policy table (trust/authz.py) is keyed by
them, envelopes are sealed for them, and a test checks that every method a
node serves has a policy entry and every entry names a served method. A
name that is not in the protos fails here, at import.
"""

from __future__ import annotations

from google.protobuf import descriptor_pool
from google.protobuf.descriptor import ServiceDescriptor
from grpc_health.v1 import health_pb2
from grpc_reflection.v1alpha import reflection_pb2

from juki.v1 import (
    access_service_pb2,
    change_notice_service_pb2,
    consistency_service_pb2,
    cs_service_pb2,
    fuhyo_service_pb2,
    my_number_link_service_pb2,
    national_service_pb2,
    node_admin_service_pb2,
    prefecture_service_pb2,
    provision_service_pb2,
    transparency_service_pb2,
    trust_service_pb2,
)


def _service(module: object, name: str) -> ServiceDescriptor:
    found: ServiceDescriptor = module.DESCRIPTOR.services_by_name[name]  # type: ignore[attr-defined]
    return found


def _path(service: ServiceDescriptor, method: str) -> str:
    return f"/{service.full_name}/{service.methods_by_name[method].name}"


def methods_of(service_name: str) -> list[str]:
    """Every method path of a service registered with protobuf, by its full name."""
    service = descriptor_pool.Default().FindServiceByName(service_name)
    return [f"/{service.full_name}/{m.name}" for m in service.methods]


_CS = _service(cs_service_pb2, "CsService")
_PREFECTURE = _service(prefecture_service_pb2, "PrefectureService")
_NATIONAL = _service(national_service_pb2, "NationalService")
_PROVISION = _service(provision_service_pb2, "ProvisionService")
_PROVISION_ADMIN = _service(provision_service_pb2, "ProvisionAdminService")
_LINK = _service(my_number_link_service_pb2, "MyNumberLinkService")
_FUHYO = _service(fuhyo_service_pb2, "FuhyoService")
_NATIONAL_FUHYO = _service(fuhyo_service_pb2, "NationalFuhyoService")
_NODE_ADMIN = _service(node_admin_service_pb2, "NodeAdminService")
_TRUST = _service(trust_service_pb2, "TrustService")
_CERTIFICATE = _service(trust_service_pb2, "CertificateService")
_CONSISTENCY = _service(consistency_service_pb2, "ConsistencyService")
_CONSISTENCY_ADMIN = _service(consistency_service_pb2, "ConsistencyAdminService")
_WITNESS = _service(transparency_service_pb2, "WitnessService")
_LOG_ADMIN = _service(transparency_service_pb2, "LogAdminService")
_ACCESS_ADMIN = _service(access_service_pb2, "AccessAdminService")
_NOTICE = _service(change_notice_service_pb2, "ChangeNoticeService")
_HEALTH = _service(health_pb2, "Health")
_REFLECTION = _service(reflection_pb2, "ServerReflection")

# Full service names (for health checking and reflection).
CS_SERVICE = _CS.full_name
PREFECTURE_SERVICE = _PREFECTURE.full_name
NATIONAL_SERVICE = _NATIONAL.full_name
PROVISION_SERVICE = _PROVISION.full_name
PROVISION_ADMIN_SERVICE = _PROVISION_ADMIN.full_name
MY_NUMBER_LINK_SERVICE = _LINK.full_name
FUHYO_SERVICE = _FUHYO.full_name
NATIONAL_FUHYO_SERVICE = _NATIONAL_FUHYO.full_name
NODE_ADMIN_SERVICE = _NODE_ADMIN.full_name
TRUST_SERVICE = _TRUST.full_name
CERTIFICATE_SERVICE = _CERTIFICATE.full_name
CONSISTENCY_SERVICE = _CONSISTENCY.full_name
CONSISTENCY_ADMIN_SERVICE = _CONSISTENCY_ADMIN.full_name
WITNESS_SERVICE = _WITNESS.full_name
LOG_ADMIN_SERVICE = _LOG_ADMIN.full_name
ACCESS_ADMIN_SERVICE = _ACCESS_ADMIN.full_name
CHANGE_NOTICE_SERVICE = _NOTICE.full_name
HEALTH_SERVICE = _HEALTH.full_name
REFLECTION_SERVICE = _REFLECTION.full_name

# CsService: the register system enters changes; operators follow them.
SUBMIT_CHANGE = _path(_CS, "SubmitChange")
SUBMIT_CHANGES = _path(_CS, "SubmitChanges")
SUBMIT_FUHYO_CHANGE = _path(_CS, "SubmitFuhyoChange")
GET_CHANGE_STATUS = _path(_CS, "GetChangeStatus")
# The hops changes travel (sealed).
DELIVER_MUNICIPAL_CHANGES = _path(_PREFECTURE, "DeliverMunicipalChanges")
DELIVER_PREFECTURE_CHANGES = _path(_NATIONAL, "DeliverPrefectureChanges")
DELIVER_MUNICIPAL_FUHYO_CHANGES = _path(_FUHYO, "DeliverMunicipalFuhyoChanges")
DELIVER_PREFECTURE_FUHYO_CHANGES = _path(_NATIONAL_FUHYO, "DeliverPrefectureFuhyoChanges")
# Refusals from above (誤りの通報): a CS takes its own from the servers above it, the register
# system its municipality's from its CS.
LIST_CHANGE_NOTICES = _path(_NOTICE, "ListChangeNotices")
ACKNOWLEDGE_CHANGE_NOTICES = _path(_NOTICE, "AcknowledgeChangeNotices")
# Provision to organs and agencies, and the national server's answers for prefectures (sealed).
QUERY_RESIDENTS = _path(_PROVISION, "QueryResidents")
BULK_QUERY_RESIDENTS = _path(_PROVISION, "BulkQueryResidents")
LIST_TASKS = _path(_PROVISION, "ListTasks")
QUERY_FOR_PREFECTURE = _path(_NATIONAL, "QueryForPrefecture")
QUERY_FUHYO_RECORDS = _path(_FUHYO, "QueryFuhyoRecords")
BULK_QUERY_FUHYO_RECORDS = _path(_FUHYO, "BulkQueryFuhyoRecords")
CONFIRM_MY_NUMBER_DELIVERY = _path(_FUHYO, "ConfirmMyNumberDelivery")
QUERY_FUHYO_FOR_PREFECTURE = _path(_NATIONAL_FUHYO, "QueryFuhyoForPrefecture")
# The narrow link (sealed).
GET_MY_NUMBER_FOR_EMIGRANT = _path(_LINK, "GetMyNumberForEmigrant")
# Operators.
DISCLOSE_RECORD = _path(_PROVISION_ADMIN, "DiscloseRecord")
GET_PROVISION_STATISTICS = _path(_PROVISION_ADMIN, "GetProvisionStatistics")
APPROVE_BULK_PROVISION = _path(_PROVISION_ADMIN, "ApproveBulkProvision")
GET_NODE_STATUS = _path(_NODE_ADMIN, "GetNodeStatus")
# 整合性確認: the tier below compares with the tier above (sealed); operators run and approve.
DIGEST_RANGES = _path(_CONSISTENCY, "DigestRanges")
LIST_LEAVES = _path(_CONSISTENCY, "ListLeaves")
RUN_CONSISTENCY_CHECK = _path(_CONSISTENCY_ADMIN, "RunConsistencyCheck")
APPROVE_REPAIRS = _path(_CONSISTENCY_ADMIN, "ApproveRepairs")
# Tamper-evident logs: checkpoints witnessed by the tier above; operators publish and export.
ADD_CHECKPOINT = _path(_WITNESS, "AddCheckpoint")
GET_WITNESSED_CHECKPOINT = _path(_WITNESS, "GetWitnessedCheckpoint")
PUBLISH_CHECKPOINT = _path(_LOG_ADMIN, "PublishCheckpoint")
EXPORT_LOG = _path(_LOG_ADMIN, "ExportLog")
GET_SELF_INSPECTION = _path(_LOG_ADMIN, "GetSelfInspection")
GET_CONSISTENCY_PROOF = _path(_LOG_ADMIN, "GetConsistencyProof")
# The access-right ledger: administrators grant, approve, revoke and list operators' rights.
GRANT_ACCESS = _path(_ACCESS_ADMIN, "GrantAccess")
APPROVE_ACCESS = _path(_ACCESS_ADMIN, "ApproveAccess")
REVOKE_ACCESS = _path(_ACCESS_ADMIN, "RevokeAccess")
LIST_ACCESS = _path(_ACCESS_ADMIN, "ListAccess")
# Trust material down the tree, and certificate renewal at the CA's signing service.
GET_TRUST_MATERIAL = _path(_TRUST, "GetTrustMaterial")
RENEW_CERTIFICATE = _path(_CERTIFICATE, "RenewCertificate")
# Every node: liveness and schema.
HEALTH_CHECK = _path(_HEALTH, "Check")
HEALTH_WATCH = _path(_HEALTH, "Watch")
HEALTH_LIST = _path(_HEALTH, "List")
REFLECTION_INFO = _path(_REFLECTION, "ServerReflectionInfo")
