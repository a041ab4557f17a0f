{{/* The release's base name: fullnameOverride, else the release name (with the chart name unless it contains it). 63 chars max. */}}
{{- define "llmendpoint.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "llmendpoint.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels on every object. */}}
{{- define "llmendpoint.labels" -}}
app.kubernetes.io/name: {{ include "llmendpoint.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Selector labels of one component; call with (dict "root" $ "component" "api"). */}}
{{- define "llmendpoint.selectorLabels" -}}
app.kubernetes.io/name: {{ include "llmendpoint.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "llmendpoint.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) -}}
{{- end -}}

{{- define "llmendpoint.configMapName" -}}
{{- include "llmendpoint.fullname" . -}}
{{- end -}}

{{/* The Secret with DATABASE_URL, REDIS_URL, ADMIN_API_KEY and WEBHOOK_SECRET (never created by the chart). */}}
{{- define "llmendpoint.secretName" -}}
{{- required "secrets.existingSecret: name the Secret holding DATABASE_URL and REDIS_URL (chart README, Secrets)" .Values.secrets.existingSecret -}}
{{- end -}}

{{/* TRUST_PROXY: the ingress controller's networks when the chart's Ingress is on, else trustProxy. */}}
{{- define "llmendpoint.trustProxy" -}}
{{- if and .Values.ingress.enabled .Values.ingress.proxyCidrs -}}
{{- join "," .Values.ingress.proxyCidrs -}}
{{- else -}}
{{- join "," .Values.trustProxy -}}
{{- end -}}
{{- end -}}

{{/* Secret-backed environment shared by every container. */}}
{{- define "llmendpoint.secretEnv" -}}
{{- $secret := include "llmendpoint.secretName" . -}}
- name: DATABASE_URL
  valueFrom:
    secretKeyRef: { name: {{ $secret }}, key: {{ .Values.secrets.keys.databaseUrl }} }
- name: REDIS_URL
  valueFrom:
    secretKeyRef: { name: {{ $secret }}, key: {{ .Values.secrets.keys.redisUrl }} }
- name: ADMIN_API_KEY
  valueFrom:
    secretKeyRef: { name: {{ $secret }}, key: {{ .Values.secrets.keys.adminApiKey }}, optional: true }
- name: WEBHOOK_SECRET
  valueFrom:
    secretKeyRef: { name: {{ $secret }}, key: {{ .Values.secrets.keys.webhookSecret }}, optional: true }
{{- end -}}

{{/* Tracing environment (tracing stays off while otel.endpoint is empty). */}}
{{- define "llmendpoint.otelEnv" -}}
- { name: OTEL_EXPORTER_OTLP_ENDPOINT, value: {{ .root.Values.otel.endpoint | quote }} }
- { name: OTEL_SERVICE_NAME, value: {{ printf "%s-%s" .root.Values.otel.serviceName .component | quote }} }
- { name: OTEL_TRACES_SAMPLER_ARG, value: {{ .root.Values.otel.sampleRatio | quote }} }
{{- end -}}

{{/* Pod annotations of one component; call with (dict "root" $ "extra" .Values.api.podAnnotations). */}}
{{- define "llmendpoint.podAnnotations" -}}
{{- if .root.Values.metrics.podAnnotations }}
prometheus.io/scrape: "true"
prometheus.io/port: "3000"
prometheus.io/path: /metrics
{{- end }}
{{- with .extra }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Pod and container hardening shared by every pod: non-root, read-only root filesystem. */}}
{{- define "llmendpoint.podSecurity" -}}
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
automountServiceAccountToken: false
{{- with .Values.serviceAccountName }}
serviceAccountName: {{ . }}
{{- end }}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/* The writable paths of a read-only root filesystem: /tmp and DATA_DIR (embedded database, unused with DATABASE_URL). */}}
{{- define "llmendpoint.volumes" -}}
volumes:
  - name: tmp
    emptyDir: { sizeLimit: {{ .Values.writablePaths.tmpSizeLimit }} }
  - name: data
    emptyDir: { sizeLimit: {{ .Values.writablePaths.dataSizeLimit }} }
{{- end -}}

{{- define "llmendpoint.volumeMounts" -}}
volumeMounts:
  - { name: tmp, mountPath: /tmp }
  - { name: data, mountPath: /app/data }
{{- end -}}

{{/* Egress of every pod: DNS, the databases, the GPU hosts, and extraEgress. */}}
{{- define "llmendpoint.egress" -}}
{{- $np := .Values.networkPolicy -}}
- to:
    {{- toYaml $np.dns | nindent 4 }}
  ports:
    - { port: 53, protocol: UDP }
    - { port: 53, protocol: TCP }
- ports:
    {{- range $np.databases.ports }}
    - { port: {{ . }}, protocol: TCP }
    {{- end }}
  {{- with $np.databases.to }}
  to:
    {{- toYaml . | nindent 4 }}
  {{- end }}
- ports:
    {{- range $np.gpuHosts.ports }}
    - { port: {{ . }}, protocol: TCP }
    {{- end }}
  {{- with $np.gpuHosts.to }}
  to:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- with $np.extraEgress }}
{{ toYaml . }}
{{- end }}
{{- end -}}
