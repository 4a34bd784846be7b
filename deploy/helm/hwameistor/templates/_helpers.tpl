{{/* The kubelet root without a trailing slash. */}}
{{- define "hwameistor.kubeletRootDir" -}}
{{- trimSuffix "/" .Values.global.kubeletRootDir -}}
{{- end -}}

{{/* Where the node agent serves lvm.sock and disk.sock (a directory under the kubelet's plugins dir). */}}
{{- define "hwameistor.pluginDir" -}}
{{ include "hwameistor.kubeletRootDir" . }}/plugins/hwameistor.io
{{- end -}}

{{/* The HwameiStor image of a component: (dict "root" $ "c" .Values.<component>). */}}
{{- define "hwameistor.image" -}}
{{- $g := .root.Values.global -}}
{{- $repo := default $g.hwameistorImageRepository .c.imageRepository -}}
{{- $tag := default (default .root.Chart.AppVersion $g.hwameistorImageTag) .c.tag -}}
{{ $g.hwameistorImageRegistry }}/{{ $repo }}:{{ $tag }}
{{- end -}}

{{/* A Kubernetes image (sidecars): (dict "root" $ "c" <values with imageRepository, tag>). */}}
{{- define "hwameistor.k8sImage" -}}
{{ .root.Values.global.k8sImageRegistry }}/{{ .c.imageRepository }}:{{ .c.tag }}
{{- end -}}

{{/* kube-scheduler's tag: the value, else the cluster's version (a scheduler must not be newer than the API server). */}}
{{- define "hwameistor.kubeSchedulerTag" -}}
{{- if .Values.scheduler.kubeScheduler.tag -}}
{{ .Values.scheduler.kubeScheduler.tag }}
{{- else -}}
v{{ .Capabilities.KubeVersion.Major }}.{{ trimSuffix "+" .Capabilities.KubeVersion.Minor }}.0
{{- end -}}
{{- end -}}

{{- define "hwameistor.labels" -}}
app.kubernetes.io/name: hwameistor
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
helm.sh/chart: {{ .Chart.Name }}-{{ .Chart.Version }}
{{- end -}}

{{- define "hwameistor.imagePullSecrets" -}}
{{- with .Values.global.imagePullSecrets }}
imagePullSecrets:
{{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/* Tolerations of the original's "tolerationsOnMaster": control-plane and not-ready nodes. */}}
{{- define "hwameistor.masterTolerations" -}}
- key: CriticalAddonsOnly
  operator: Exists
- key: node.kubernetes.io/not-ready
  operator: Exists
  effect: NoSchedule
- key: node-role.kubernetes.io/master
  operator: Exists
  effect: NoSchedule
- key: node-role.kubernetes.io/control-plane
  operator: Exists
  effect: NoSchedule
- key: node.cloudprovider.kubernetes.io/uninitialized
  operator: Exists
  effect: NoSchedule
{{- end -}}

{{/* POD_NAMESPACE / POD_NAME / NODE_NAME from the downward API. */}}
{{- define "hwameistor.podEnv" -}}
- name: POD_NAMESPACE
  valueFrom:
    fieldRef:
      fieldPath: metadata.namespace
- name: POD_NAME
  valueFrom:
    fieldRef:
      fieldPath: metadata.name
- name: NODE_NAME
  valueFrom:
    fieldRef:
      fieldPath: spec.nodeName
{{- /* glibc malloc: at most 2 arenas (Node's threads each kept one with its freed pages; docs/benchmarks.md "Memory") */}}
- name: MALLOC_ARENA_MAX
  value: "2"
{{- end -}}

{{/*
Values the chart cannot honour fail the render, before anything reaches the cluster, naming the value and the fix.
*/}}
{{- define "hwameistor.validate" -}}
{{- $classes := list "HDD" "SSD" "NVMe" -}}
{{- if not (has .Values.storageClass.diskType $classes) -}}
{{- fail (printf "storageClass.diskType=%q is not a disk class: use HDD, SSD or NVMe" (toString .Values.storageClass.diskType)) -}}
{{- end -}}
{{- range $i, $n := .Values.storageNodes -}}
{{- if not (kindIs "map" $n) -}}
{{- fail (printf "storageNodes[%d] must be a map {name, diskType}, not %q" $i (toString $n)) -}}
{{- end -}}
{{- if not $n.name -}}
{{- fail (printf "storageNodes[%d].name is empty: give the node's name" $i) -}}
{{- end -}}
{{- if and $n.diskType (not (has $n.diskType $classes)) -}}
{{- fail (printf "storageNodes[%d].diskType=%q is not a disk class: use HDD, SSD or NVMe" $i (toString $n.diskType)) -}}
{{- end -}}
{{- end -}}
{{- if not (has .Values.admission.failurePolicy (list "Ignore" "Fail")) -}}
{{- fail (printf "admission.failurePolicy=%q: use Ignore or Fail" (toString .Values.admission.failurePolicy)) -}}
{{- end -}}
{{- if not (has .Values.localStorage.member.config.engine (list "auto" "lvm" "file")) -}}
{{- fail (printf "localStorage.member.config.engine=%q: use auto, lvm or file" (toString .Values.localStorage.member.config.engine)) -}}
{{- end -}}
{{- if not (has .Values.storageClass.reclaimPolicy (list "Retain" "Delete")) -}}
{{- fail (printf "storageClass.reclaimPolicy=%q: use Retain or Delete" (toString .Values.storageClass.reclaimPolicy)) -}}
{{- end -}}
{{- if not (isAbs .Values.global.kubeletRootDir) -}}
{{- fail (printf "global.kubeletRootDir=%q must be an absolute path (the kubelet's --root-dir, e.g. /var/lib/kubelet)" (toString .Values.global.kubeletRootDir)) -}}
{{- end -}}
{{- if and .Values.storageClass.enableHA (not (or .Values.drbd.enabled .Values.replicator.enabled)) -}}
{{- fail "storageClass.enableHA=true needs replication: set replicator.enabled=true (the native data plane; nodes need /dev/fuse) or set storageClass.enableHA=false" -}}
{{- end -}}
{{- if .Values.drbd.enabled -}}
{{- fail "drbd.enabled=true: DRBD replication is not built in this version of HwameiStor in TypeScript; set drbd.enabled=false and use replicator.enabled=true (the native data plane) for storageClass.enableHA" -}}
{{- end -}}
{{- if .Values.replicator.enabled -}}
{{- $p := int .Values.replicator.port -}}
{{- if or (lt $p 1) (gt $p 65535) -}}
{{- fail (printf "replicator.port=%v is not a port number (1-65535; default 43000)" .Values.replicator.port) -}}
{{- end -}}
{{- if not (has .Values.replicator.logLevel (list "debug" "info" "warn" "error")) -}}
{{- fail (printf "replicator.logLevel=%q: use debug, info, warn or error" (toString .Values.replicator.logLevel)) -}}
{{- end -}}
{{- end -}}
{{- if ne .Release.Namespace "hwameistor" -}}
{{- fail (printf "release namespace %q: install into the namespace hwameistor (helm install -n hwameistor --create-namespace): the node agents keep their worker Leases there whatever the release namespace" .Release.Namespace) -}}
{{- end -}}
{{- if not .Values.auditor.enabled -}}
{{- fail "auditor.enabled=false: the auditor runs inside the controller (leader replica) and cannot be turned off in this version; remove the value" -}}
{{- end -}}
{{- if and .Values.ui.enabled (not .Values.apiserver.enabled) -}}
{{- fail "ui.enabled=true with apiserver.enabled=false: the dashboard is served by the apiserver (REST) component; enable apiserver or set ui.enabled=false" -}}
{{- end -}}
{{- if and .Values.apiserver.enabled .Values.apiserver.auth.enableAuth (not .Values.apiserver.auth.accessId) -}}
{{- fail "apiserver.auth.accessId is empty with apiserver.auth.enableAuth=true: give the login name (e.g. admin)" -}}
{{- end -}}
{{- range $c := list "exporter" "apiserver" -}}
{{- $p := int (index $.Values $c).port -}}
{{- if or (lt $p 1) (gt $p 65535) -}}
{{- fail (printf "%s.port=%v is not a port number (1-65535)" $c (index $.Values $c).port) -}}
{{- end -}}
{{- end -}}
{{- if and .Values.admission.enabled (not .Values.scheduler.enabled) -}}
{{- fail "admission.enabled=true with scheduler.enabled=false: the webhook would send pods to a scheduler that does not exist; enable the scheduler or disable admission" -}}
{{- end -}}
{{- if lt (int .Values.localStorageCSIController.replicas) 1 -}}
{{- fail "localStorageCSIController.replicas must be at least 1" -}}
{{- end -}}
{{- end -}}
