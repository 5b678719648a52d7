"""Networking objects of a conversion: Services (kompy.convert.services), Ingresses
(kompy.convert.ingress) and NetworkPolicies (kompy.convert.netpolicy).

The pipeline calls ``build_services`` and ``build_ingresses`` per service and
``build_network_policies`` once; the pod builder adds ``network_pod_labels``.
"""

from __future__ import annotations

from kompy.convert.ingress import build_ingresses
from kompy.convert.netpolicy import (
    NETWORK_LABEL,
    build_network_policies,
    network_label,
    network_pod_labels,
    service_networks,
)
from kompy.convert.services import (
    HOST_PORTS_ANNOTATION,
    ServicePlan,
    ServicePort,
    build_services,
    expose_ports,
    plan_service,
    service_type,
)

__all__ = [
    "HOST_PORTS_ANNOTATION",
    "NETWORK_LABEL",
    "ServicePlan",
    "ServicePort",
    "build_ingresses",
    "build_network_policies",
    "build_services",
    "expose_ports",
    "network_label",
    "network_pod_labels",
    "plan_service",
    "service_networks",
    "service_type",
]
