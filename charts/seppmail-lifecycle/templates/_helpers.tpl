{{/* Chart name, truncated to the 63 characters a label value allows. */}}
{{- define "seppmail-lifecycle.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Full name: the prefix of every object (and of the user-facing ClusterRoles). The release name
alone when it already contains the chart name (`helm install seppmail-lifecycle ...`).
*/}}
{{- define "seppmail-lifecycle.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "seppmail-lifecycle.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The standard labels on every object. */}}
{{- define "seppmail-lifecycle.labels" -}}
helm.sh/chart: {{ include "seppmail-lifecycle.chart" . }}
{{ include "seppmail-lifecycle.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: seppmail-lifecycle
{{- end }}

{{/* Selector labels: stable over upgrades (a Deployment's selector is immutable). */}}
{{- define "seppmail-lifecycle.selectorLabels" -}}
app.kubernetes.io/name: {{ include "seppmail-lifecycle.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "seppmail-lifecycle.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "seppmail-lifecycle.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "seppmail-lifecycle.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/* The policy file's content; the Deployment hashes it so a change restarts the pod. */}}
{{- define "seppmail-lifecycle.policy" -}}
{{- if .Values.policy }}{{ toYaml .Values.policy }}{{ else }}{}{{ end }}
{{- end }}

{{/* "true" when a watched namespace is a glob pattern: then namespaces must be discovered, which
needs cluster-wide read; exact names are listed one by one and need only Roles in them. */}}
{{- define "seppmail-lifecycle.watchesGlobs" -}}
{{- range .Values.watchNamespaces }}{{ if regexMatch "[*?\\[]" . }}true{{ end }}{{ end }}
{{- end }}

{{/* The operator's rules on namespaced objects: in a ClusterRole for every namespace, or in a
Role per watched namespace. */}}
{{- define "seppmail-lifecycle.operatorNamespacedRules" -}}
# Watch every namespaced kind of the API.
- apiGroups: ["lifecycle.seppmail.cloud"]
  resources: [partners, tenants, domains, services, contracts, invoices, payments, licenses, deployrequests]
  verbs: [get, list, watch]
# Write status (conditions, phases, IDs, history).
- apiGroups: ["lifecycle.seppmail.cloud"]
  resources:
    - partners/status
    - tenants/status
    - domains/status
    - services/status
    - contracts/status
    - invoices/status
    - payments/status
    - licenses/status
    - deployrequests/status
  verbs: [patch, update]
# Finalizers (RBAC cannot narrow a patch to metadata.finalizers) on the kinds it holds.
- apiGroups: ["lifecycle.seppmail.cloud"]
  resources: [services, domains, deployrequests, invoices]
  verbs: [patch, update]
# The base service a Domain without one gets (owned by the Domain).
- apiGroups: ["lifecycle.seppmail.cloud"]
  resources: [services]
  verbs: [create]
# Invoices for a contract's next period (owned by the Contract).
- apiGroups: ["lifecycle.seppmail.cloud"]
  resources: [invoices]
  verbs: [create, delete]
# Completed DeployRequests past deployRequests.ttlAfterCompleted (not those Git manages).
- apiGroups: ["lifecycle.seppmail.cloud"]
  resources: [deployrequests]
  verbs: [delete]
# Routing config ConfigMaps owned by Domains (the mail gateways read them), mail ledgers; purge.
- apiGroups: [""]
  resources: [configmaps]
  verbs: [get, list, watch, create, update, patch, delete]
# Events on transitions (kopf posts core/v1 events; events.k8s.io for newer clients).
- apiGroups: [""]
  resources: [events]
  verbs: [create, patch]
- apiGroups: ["events.k8s.io"]
  resources: [events]
  verbs: [create, patch]
{{- end }}
