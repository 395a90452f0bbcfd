{{/* The release's full name: the release name, prefixed to the chart's unless it contains it. */}}
{{- define "ray-admission.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := .Values.nameOverride | default .Chart.Name -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "ray-admission.name" -}}
{{- .Values.nameOverride | default .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels on every object. */}}
{{- define "ray-admission.labels" -}}
app.kubernetes.io/name: {{ include "ray-admission.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* The labels that select the server's pods. */}}
{{- define "ray-admission.selectorLabels" -}}
app.kubernetes.io/name: {{ include "ray-admission.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "ray-admission.serviceAccountName" -}}
{{- .Values.serviceAccount.name | default (include "ray-admission.fullname" .) -}}
{{- end -}}

{{/* The Secret holding tls.crt and tls.key (and ca.crt, except in mode secret). */}}
{{- define "ray-admission.tlsSecretName" -}}
{{- if eq .Values.certs.mode "secret" -}}
{{- required "certs.secret.name is required with certs.mode=secret" .Values.certs.secret.name -}}
{{- else -}}
{{- printf "%s-tls" (include "ray-admission.fullname" .) -}}
{{- end -}}
{{- end -}}

{{/*
The fields every webhook shares. Called with a dict:
  root: the chart's context ($), path: /validate or /mutate, failurePolicy, caBundle ("" leaves
  the field out, for cert-manager's cainjector to fill in).
*/}}
{{- define "ray-admission.webhookCommon" -}}
admissionReviewVersions: ["v1", "v1beta1"]
clientConfig:
  service:
    name: {{ include "ray-admission.fullname" .root }}
    namespace: {{ .root.Release.Namespace }}
    path: {{ .path }}
    port: {{ .root.Values.service.port }}
  {{- if .caBundle }}
  caBundle: {{ .caBundle }}
  {{- end }}
failurePolicy: {{ .failurePolicy }}
matchPolicy: Equivalent
namespaceSelector:
  matchExpressions:
    - key: kubernetes.io/metadata.name
      operator: NotIn
      values:
        - kube-system
        - kube-node-lease
        - {{ .root.Release.Namespace }}
        {{- range .root.Values.webhook.excludeNamespaces }}
        - {{ . }}
        {{- end }}
sideEffects: None
timeoutSeconds: {{ .root.Values.webhook.timeoutSeconds }}
{{- end -}}

{{/*
Static clusters: the API server calls the webhook only when every matchCondition (CEL) holds.
runs-ray-start is a superset of what the engine reads as `ray start` (some word of a container's
command or args mentions "ray", and some word mentions "start"); the engine decides the rest.
`ray-admission manifests` writes the same expressions (cli/manifests_cmd.cpp).
*/}}
{{- define "ray-admission.matchConditions.workloads" -}}
- name: runs-ray-start
  expression: "object.spec.template.spec.containers.exists(c, ((has(c.command) && c.command.exists(w, w.contains('ray'))) || (has(c.args) && c.args.exists(w, w.contains('ray')))) && ((has(c.command) && c.command.exists(w, w.contains('start'))) || (has(c.args) && c.args.exists(w, w.contains('start')))))"
{{- end -}}

{{/* Pods: also skip those whose owner's template was checked already, and KubeRay's own pods. */}}
{{- define "ray-admission.matchConditions.pods" -}}
- name: runs-ray-start
  expression: "object.spec.containers.exists(c, ((has(c.command) && c.command.exists(w, w.contains('ray'))) || (has(c.args) && c.args.exists(w, w.contains('ray')))) && ((has(c.command) && c.command.exists(w, w.contains('start'))) || (has(c.args) && c.args.exists(w, w.contains('start')))))"
- name: not-owned-by-a-controller
  expression: "!has(object.metadata.ownerReferences) || !object.metadata.ownerReferences.exists(r, r.kind in ['ReplicaSet', 'StatefulSet', 'DaemonSet', 'Job', 'RayCluster'])"
- name: not-created-by-kuberay
  expression: "!has(object.metadata.labels) || !('ray.io/node-type' in object.metadata.labels)"
{{- end -}}
