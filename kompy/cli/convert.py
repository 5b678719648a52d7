"""``kompy convert``: Compose project -> Kubernetes manifests, with Kompose's flag names."""

from __future__ import annotations

import sys

import click

from kompy.cli import warn
from kompy.cli.options import project_options

# Kompose's replicationController is recognised, to refuse it with the fix (below).
_CONTROLLERS = ["deployment", "statefulset", "daemonset", "auto", "replicationcontroller"]
_VOLUMES = ["persistentVolumeClaim", "emptyDir", "hostPath", "configMap"]


@click.command("convert")
@project_options
@click.option("--no-interpolate", is_flag=True, help="Do not substitute ${VARIABLES}.")
@click.option("-o", "--out", metavar="PATH",
              help="Write to PATH: a folder (one file per object) or a .yaml/.json file "
              "(all objects). Default: stdout.")
@click.option("--stdout", "to_stdout", is_flag=True, help="Print to stdout (overrides -o).")
@click.option("-j", "--json", "as_json", is_flag=True, help="JSON instead of YAML.")
@click.option("--format", "fmt", type=click.Choice(["yaml", "json"]), default=None,
              help="Output format (default yaml).")
@click.option("--controller", type=click.Choice(_CONTROLLERS, case_sensitive=False),
              help="Workload kind for every service; auto: StatefulSet for services with "
              "named volumes.")
@click.option("--volumes", type=click.Choice(_VOLUMES), default=None,
              help="What every bind mount becomes (default: a ConfigMap with the content of "
              "an existing file or folder, a PersistentVolumeClaim for a missing or empty one).")
@click.option("--emptyvols", is_flag=True, hidden=True,
              help="Deprecated (Kompose): use --volumes emptyDir.")
@click.option("--pvc-request-size", default="100Mi", show_default=True, metavar="SIZE",
              help="Storage request of generated PersistentVolumeClaims.")
@click.option("-n", "--namespace", metavar="NS", help="Namespace of every object.")
@click.option("--replicas", type=click.IntRange(min=0), metavar="N",
              help="Replicas of services that do not set deploy.replicas or scale.")
@click.option("--service-type", type=click.Choice(
    ["clusterip", "nodeport", "loadbalancer", "headless"], case_sensitive=False),
    help="Service type of every service with ports.")
@click.option("--generate-network-policies", "--network-policies", "network_policies",
              is_flag=True, help="NetworkPolicies: only services sharing a network may talk.")
@click.option("--service-group-mode", type=click.Choice(["label", "volume"]),
              help="Group services into one pod by kompose.service.group label or by "
              "shared volume.")
@click.option("--service-group-name", metavar="NAME", help="Name of the grouped pod.")
@click.option("--secrets-as-files", is_flag=True,
              help="Mount each secret as its own volume (as Kompose) instead of one "
              "projected /run/secrets volume.")
@click.option("--with-kompose-annotation", type=click.BOOL, default=True, is_flag=False,
              flag_value=True, show_default=True, metavar="BOOL",
              help="Annotate objects with the command and kompy version.")
@click.option("--security", type=click.Choice(["default", "baseline", "restricted"]),
              default="default", show_default=True,
              help="default: as `docker compose up`; baseline/restricted: pods pass that Pod "
              "Security Standard, or the conversion fails naming the keys that prevent it.")
@click.option("--create-namespace/--no-create-namespace", default=True, show_default=True,
              help="With -n: emit the Namespace object first.")
@click.option("--inspect-images/--no-inspect-images", default=True, show_default=True,
              help="Read EXPOSE ports and USER of local images from the Docker engine (when "
              "one answers); --no-inspect-images: the output depends on the Compose files "
              "and options alone.")
@click.option("--no-wait-init", is_flag=True,
              help="No init containers waiting for depends_on services.")
@click.option("--wait-image", metavar="IMAGE", default=None,
              help="Image of kompy's init containers: needs sh and nc, and a static "
              "/bin/busybox for filling volumes (default busybox:1.36-musl).")
@click.option("--no-volume-init", is_flag=True,
              help="No init containers filling new volumes from the image (as Docker does).")
@click.option("--image-registry", metavar="REGISTRY",
              help="Registry prefix for images of services that only have build:.")
@click.option("--build", "build", type=click.Choice(["none", "local"]), default="none",
              show_default=True, help="local: build the images of services with build: on "
              "the local Docker engine before writing (Kompose's flag).")
@click.option("--push-image", is_flag=True,
              help="Push the images of services with build: (built by --build local, or "
              "before) to their registry; the manifests name the pushed image.")
@click.option("--push-image-registry", metavar="REGISTRY",
              help="With --push-image: push to REGISTRY instead of the image name's own.")
@click.option("--kube-version", metavar="VERSION",
              help="Kubernetes version to validate against (default: newest supported).")
@click.option("--templates", "templates_dir", metavar="DIR",
              help="Folder of templates overriding the built-in ones by file name.")
@click.option("--strict", is_flag=True, help="Warnings are errors (exit 2).")
@click.option("--report", metavar="FILE.json",
              help="Write what became of each Compose key (mapped/approximated/dropped).")
@click.option("--kustomize", is_flag=True, help="With -o DIR: also write kustomization.yaml.")
@click.option("--chart", is_flag=True, help="Write a Helm chart (to -o DIR, default: the "
              "project name).")
@click.option("--allow-outside-project", is_flag=True,
              help="Allow reading files outside the project folder.")
def convert(files: tuple[str, ...], project_name: str | None, project_directory: str | None,
            env_files: tuple[str, ...], profiles: tuple[str, ...], no_interpolate: bool,
            out: str | None, to_stdout: bool, as_json: bool, fmt: str | None,
            controller: str | None, volumes: str | None, emptyvols: bool,
            pvc_request_size: str,
            namespace: str | None, replicas: int | None, service_type: str | None,
            network_policies: bool, service_group_mode: str | None,
            service_group_name: str | None, secrets_as_files: bool,
            with_kompose_annotation: bool, security: str, create_namespace: bool,
            inspect_images: bool, no_wait_init: bool,
            wait_image: str | None, no_volume_init: bool, image_registry: str | None, build: str,
            push_image: bool, push_image_registry: str | None, kube_version: str | None,
            templates_dir: str | None, strict: bool, report: str | None, kustomize: bool,
            chart: bool, allow_outside_project: bool) -> None:
    """Convert a Compose project to Kubernetes manifests (validated before writing)."""
    from kompy.convert.command import ConvertRequest, run_convert
    from kompy.convert.options import DEFAULT_WAIT_IMAGE, ConvertOptions, default_cache_dir

    if as_json and fmt == "yaml":
        raise click.UsageError("-j/--json contradicts --format yaml")
    if controller and controller.lower() == "replicationcontroller":
        # Not silently a Deployment: the user asked for a kind kompy does not write.
        raise click.UsageError(
            "--controller replicationcontroller: kompy does not write ReplicationControllers "
            "(superseded by Deployments, which roll out updates); use --controller deployment")
    if emptyvols:
        # Kompose's old spelling, kept so its command lines keep working.
        if volumes not in (None, "emptyDir"):
            raise click.UsageError(f"--emptyvols contradicts --volumes {volumes}")
        warn("--emptyvols is deprecated; use --volumes emptyDir")
        volumes = "emptyDir"
    options = ConvertOptions(
        controller=controller.lower() if controller else None, volumes=volumes,
        pvc_request_size=pvc_request_size, namespace=namespace, replicas=replicas,
        service_type=service_type.lower() if service_type else None,
        network_policies=network_policies, service_group_mode=service_group_mode,
        service_group_name=service_group_name, secrets_as_files=secrets_as_files,
        with_kompose_annotation=with_kompose_annotation, security=security,
        wait_init=not no_wait_init, wait_image=wait_image or DEFAULT_WAIT_IMAGE,
        volume_init=not no_volume_init,
        kube_version=kube_version, templates_dir=templates_dir, strict=strict,
        image_registry=image_registry, allow_outside_project=allow_outside_project,
        cache_dir=default_cache_dir(), create_namespace=create_namespace,
    )
    request = ConvertRequest(
        files=files, project_directory=project_directory, project_name=project_name,
        env_files=env_files, profiles=profiles, interpolate=not no_interpolate,
        allow_outside_project=allow_outside_project, out=out, stdout=to_stdout,
        fmt="json" if as_json else (fmt or "yaml"), report=report, kustomize=kustomize,
        chart=chart, options=options, inspect_images=inspect_images, build=build,
        push_image=push_image, push_image_registry=push_image_registry,
    )
    sys.exit(run_convert(request, sys.stdout, warn,
                         lambda line: click.echo(line, err=True)))


COMMANDS = [convert]
