{{- define "pipefill.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "pipefill.fullname" -}}
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

{{- define "pipefill.controlPlaneName" -}}
{{- printf "%s-control-plane" (include "pipefill.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "pipefill.workerName" -}}
{{- printf "%s-worker" (include "pipefill.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "pipefill.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "pipefill.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/* selector labels of one component: pass (dict "ctx" $ "component" "pipefill-worker") */}}
{{- define "pipefill.selectorLabels" -}}
app.kubernetes.io/name: {{ include "pipefill.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/* a component's image: pass (dict "ctx" $ "repository" <the component's repository>); image.repository, when
     set, stands for every component */}}
{{- define "pipefill.image" -}}
{{- printf "%s:%s" (default .repository .ctx.Values.image.repository) (default .ctx.Chart.AppVersion .ctx.Values.image.tag) }}
{{- end }}

{{- define "pipefill.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "pipefill.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "pipefill.tokensSecret" -}}
{{- default (printf "%s-tokens" (include "pipefill.fullname" .)) .Values.tokens.existingSecret }}
{{- end }}

{{- define "pipefill.databaseSecret" -}}
{{- default (printf "%s-database" (include "pipefill.fullname" .)) .Values.database.existingSecret }}
{{- end }}

{{/* the URL workers register with: the control plane's Service inside the cluster */}}
{{- define "pipefill.controlPlaneUrl" -}}
{{- printf "http://%s.%s.svc:%v" (include "pipefill.controlPlaneName" .) .Release.Namespace .Values.controlPlane.service.port }}
{{- end }}

{{/* a pod annotation that rolls the pods when the token or database settings change. It hashes the values that
     choose them, not the rendered Secrets: generated tokens are drawn anew in every render of a first install, so
     a hash of them would change at the first upgrade and restart every pod for nothing */}}
{{- define "pipefill.secretsChecksum" -}}
{{- toJson (list .Values.tokens .Values.database) | sha256sum }}
{{- end }}
