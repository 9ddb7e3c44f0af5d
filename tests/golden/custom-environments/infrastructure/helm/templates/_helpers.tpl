{{/*
Named templates shared by every manifest of this chart, named after the chart (as
`helm create` names them): named templates are global to a release, so when charts of the
fleet rendered from different template versions are subcharts of one umbrella chart, each
keeps its own helpers instead of one chart's replacing the others'.
*/}}

{{/* Chart name, truncated to the 63 characters of a DNS-1123 label. */}}
{{- define "publishing.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Fully qualified app name: the release name when it already contains the chart
name (the usual `helm upgrade --install <service> .`), else "<release>-<chart>".
*/}}
{{- define "publishing.fullname" -}}
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

{{/* "<chart>-<version>" as used by the helm.sh/chart label. */}}
{{- define "publishing.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels that never change for the life of a release: the Deployment selector. */}}
{{- define "publishing.selectorLabels" -}}
app.kubernetes.io/name: {{ include "publishing.name" . | quote }}
app.kubernetes.io/instance: {{ .Release.Name | trunc 63 | trimSuffix "-" | quote }}
{{- end }}

{{/* The standard labels of every object of this chart. */}}
{{- define "publishing.labels" -}}
helm.sh/chart: {{ include "publishing.chart" . | quote }}
{{ include "publishing.selectorLabels" . }}
app.kubernetes.io/version: {{ include "publishing.imageTag" . | replace "+" "_" | trunc 63 | trimSuffix "-" | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service | quote }}
app.kubernetes.io/part-of: {{ .Values.platform | quote }}
app.kubernetes.io/component: {{ .Values.component | quote }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Image tag: values first, else the chart's appVersion. */}}
{{- define "publishing.imageTag" -}}
{{- .Values.image.tag | default .Chart.AppVersion | toString }}
{{- end }}

{{/*
The image reference: repository@digest when image.digest is set (it wins over the tag: the
bytes that run are the ones pinned), else repository:tag (the tag from values, else the
appVersion).
*/}}
{{- define "publishing.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (include "publishing.imageTag" .) }}
{{- end }}
{{- end }}

{{/*
Labels of the `helm test` pod: the chart's, but another app.kubernetes.io/name, so that the
Deployment and the Service never select it.
*/}}
{{- define "publishing.testSelectorLabels" -}}
app.kubernetes.io/name: {{ printf "%s-test" (include "publishing.name" .) | trunc 63 | trimSuffix "-" | quote }}
app.kubernetes.io/instance: {{ .Release.Name | trunc 63 | trimSuffix "-" | quote }}
{{- end }}

{{/* Name of the ServiceAccount the pods run as. */}}
{{- define "publishing.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "publishing.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* Name of the PersistentVolumeClaim holding the data directory. */}}
{{- define "publishing.claimName" -}}
{{- if .Values.persistence.existingClaim }}
{{- .Values.persistence.existingClaim }}
{{- else }}
{{- printf "%s-data" (include "publishing.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{/* The replica floor: the HPA minimum when autoscaling, else the fixed count. */}}
{{- define "publishing.minReplicas" -}}
{{- if .Values.autoscaling.enabled }}
{{- .Values.autoscaling.minReplicas | int }}
{{- else }}
{{- .Values.replicaCount | int }}
{{- end }}
{{- end }}

{{/*
Every port of the container, the main one ("http") first, as a YAML list of
{name, port, containerPort, protocol}. Fails on a duplicate name, container port
or Service port, which the API server would otherwise reject only at apply time.
*/}}
{{- define "publishing.ports" -}}
{{- $ports := list (dict "name" "http" "port" (.Values.service.port | int) "containerPort" (.Values.containerPort | int) "protocol" (.Values.service.protocol | default "TCP" | upper)) }}
{{- range .Values.extraPorts }}
{{- $ports = append $ports (dict "name" .name "port" (.port | int) "containerPort" (.containerPort | default .port | int) "protocol" (.protocol | default "TCP" | upper)) }}
{{- end }}
{{- $names := dict }}
{{- $seen := dict }}
{{- $servicePorts := dict }}
{{- range $ports }}
{{- if hasKey $names .name }}
{{- fail (printf "port name %q is used twice (the main port is always named \"http\")" .name) }}
{{- end }}
{{- $_ := set $names .name true }}
{{- $key := printf "%d/%s" (.containerPort | int) .protocol }}
{{- if hasKey $seen $key }}
{{- fail (printf "container port %s is used twice" $key) }}
{{- end }}
{{- $_ := set $seen $key true }}
{{- $serviceKey := printf "%d/%s" (.port | int) .protocol }}
{{- if hasKey $servicePorts $serviceKey }}
{{- fail (printf "service port %s is used twice" $serviceKey) }}
{{- end }}
{{- $_ := set $servicePorts $serviceKey true }}
{{- end }}
{{- toYaml $ports }}
{{- end }}
