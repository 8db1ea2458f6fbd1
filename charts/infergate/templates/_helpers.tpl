{{/*
Names, labels, and the pieces every template reads: the kustomize base (deploy/kubernetes/base,
linked as kustomize-base/) and the scenario the release runs (suites/<name>.yaml with the
release's overrides).
*/}}

{{- define "infergate.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "infergate.namespace" -}}
{{- .Values.benchmark.namespace | default .Release.Namespace -}}
{{- end -}}

{{- define "infergate.serviceAccountName" -}}
{{- .Values.benchmark.serviceAccount.name | default (include "infergate.fullname" .) -}}
{{- end -}}

{{- define "infergate.secretName" -}}
{{- if .Values.benchmark.secrets.create -}}
{{- include "infergate.fullname" . -}}
{{- else -}}
{{- .Values.benchmark.secrets.name -}}
{{- end -}}
{{- end -}}

{{/* The pods' labels; `kubectl logs -l benchmark.scenario=<name>` (the seeds' line) selects them. */}}
{{- define "infergate.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
benchmark.scenario: {{ .Values.benchmark.scenario | quote }}
{{- end -}}

{{- define "infergate.labels" -}}
{{ include "infergate.selectorLabels" . }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{/* A file of the chart as YAML; fails naming it when it is missing or not YAML. */}}
{{- define "infergate.yamlFile" -}}
{{- $text := .root.Files.Get .path -}}
{{- if not $text -}}
{{- fail (printf "%s is missing from the chart (a link into the repository: install from a checkout, or package the chart with helm package)" .path) -}}
{{- end -}}
{{- $doc := fromYaml $text -}}
{{- if hasKey $doc "Error" -}}
{{- fail (printf "%s: %s" .path $doc.Error) -}}
{{- end -}}
{{- toJson $doc -}}
{{- end -}}

{{/* deploy/kubernetes/base's Job, as JSON. */}}
{{- define "infergate.baseJob" -}}
{{- include "infergate.yamlFile" (dict "root" . "path" "kustomize-base/job.yaml") -}}
{{- end -}}

{{/*
The pods' settings: deploy/kubernetes/base's infergate-settings literals, then the release's
values over them, as a JSON object of strings.
*/}}
{{- define "infergate.settings" -}}
{{- $b := .Values.benchmark -}}
{{- $k := include "infergate.yamlFile" (dict "root" . "path" "kustomize-base/kustomization.yaml") | fromJson -}}
{{- $out := dict -}}
{{- range $k.configMapGenerator -}}
{{- if eq .name "infergate-settings" -}}
{{- range .literals -}}
{{- $kv := splitn "=" 2 . -}}
{{- $_ := set $out $kv._0 ($kv._1 | default "") -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- $set := dict
  "INFERGATE_TARGET" $b.target.baseUrl
  "INFERGATE_MODEL" $b.target.modelName
  "INFERGATE_TOKENIZER" $b.target.tokenizerPath
  "INFERGATE_BASELINE" $b.regression.baseline
  "INFERGATE_SAVE_BASELINE" $b.regression.saveBaseline -}}
{{- range $key, $value := $set -}}
{{- if $value -}}
{{- $_ := set $out $key (toString $value) -}}
{{- end -}}
{{- end -}}
{{- if $b.regression.force -}}
{{- $_ := set $out "INFERGATE_FORCE_BASELINE" "1" -}}
{{- end -}}
{{- if gt (int $b.shards) 1 -}}
{{- $_ := set $out "INFERGATE_SHARDS" (toString (int $b.shards)) -}}
{{- end -}}
{{- range $key, $value := $b.settings -}}
{{- $_ := set $out $key (toString $value) -}}
{{- end -}}
{{- toJson $out -}}
{{- end -}}

{{/* The scenario names the chart can run: the files under suites/. */}}
{{- define "infergate.scenarioNames" -}}
{{- $names := list -}}
{{- range $path, $_ := .Files.Glob "suites/*.yaml" -}}
{{- $name := base $path | trimSuffix ".yaml" -}}
{{- if ne $name "kustomization" -}}
{{- $names = append $names $name -}}
{{- end -}}
{{- end -}}
{{- join ", " $names -}}
{{- end -}}

{{/*
One value of the seeds' overrides in the scenario file's terms, as {"v": value}: keys in
camelCase become snake_case, `data.input` and `data.output` become the distributions, numbers
given as text (`--set` gives a fraction as text) become numbers. Maps of names (thresholds,
headers, ...) stay as written. Called with (dict "v" value "parent" key).
*/}}
{{- define "infergate.translate" -}}
{{- $v := .v -}}
{{- $parent := .parent -}}
{{- $verbatim := list "thresholds" "headers" "constraints" "metrics" "model_mapping" "attribute_to_header_map" "attribute_to_label_map" -}}
{{- if kindIs "map" $v -}}
{{- $out := dict -}}
{{- range $k, $x := $v -}}
{{- $key := snakecase $k -}}
{{- if and (eq $parent "data") (has $key (list "input" "output")) -}}
{{- $key = printf "%s_distribution" $key -}}
{{- end -}}
{{- if has $key $verbatim -}}
{{- $_ := set $out $key $x -}}
{{- else if ne $key "description" -}}
{{- $_ := set $out $key (index (include "infergate.translate" (dict "v" $x "parent" $key) | fromJson) "v") -}}
{{- end -}}
{{- end -}}
{{- dict "v" $out | toJson -}}
{{- else if kindIs "slice" $v -}}
{{- $out := list -}}
{{- range $v -}}
{{- $out = append $out (index (include "infergate.translate" (dict "v" . "parent" $parent) | fromJson) "v") -}}
{{- end -}}
{{- dict "v" $out | toJson -}}
{{- else if and (kindIs "string" $v) (regexMatch "^-?[0-9]+(\\.[0-9]+)?([eE][-+]?[0-9]+)?$" $v) -}}
{{- dict "v" (float64 $v) | toJson -}}
{{- else -}}
{{- dict "v" $v | toJson -}}
{{- end -}}
{{- end -}}

{{/*
`over` merged into `base` (both maps), as JSON: maps merge key by key, a list replaces the base's
except `stages`, whose items each merge into the base's item at the same place, and null keeps
the base's value.
*/}}
{{- define "infergate.merge" -}}
{{- $out := deepCopy .base -}}
{{- range $k, $v := .over -}}
{{- $b := index $out $k -}}
{{- if kindIs "invalid" $v -}}
{{- else if and (kindIs "map" $v) (kindIs "map" $b) -}}
{{- $_ := set $out $k (include "infergate.merge" (dict "base" $b "over" $v) | fromJson) -}}
{{- else if and (eq $k "stages") (kindIs "slice" $v) (kindIs "slice" $b) -}}
{{- $stages := list -}}
{{- range $i, $stage := $v -}}
{{- $old := dict -}}
{{- if lt $i (len $b) -}}
{{- $old = index $b $i -}}
{{- end -}}
{{- if kindIs "map" $stage -}}
{{- $stages = append $stages (include "infergate.merge" (dict "base" $old "over" $stage) | fromJson) -}}
{{- else if kindIs "invalid" $stage -}}
{{- $stages = append $stages $old -}}
{{- else -}}
{{- $stages = append $stages $stage -}}
{{- end -}}
{{- end -}}
{{- $_ := set $out $k $stages -}}
{{- else -}}
{{- $_ := set $out $k $v -}}
{{- end -}}
{{- end -}}
{{- toJson $out -}}
{{- end -}}

{{/*
The scenario the release runs, as JSON: suites/<benchmark.scenario>.yaml, with
benchmark.scenarios.<name> merged in, then the target, api, storage, thresholds and regression
values.
*/}}
{{- define "infergate.scenario" -}}
{{- $b := .Values.benchmark -}}
{{- $name := toString $b.scenario -}}
{{- $path := printf "suites/%s.yaml" $name -}}
{{- if or (not (regexMatch "^[A-Za-z0-9][A-Za-z0-9_.-]*$" $name)) (not (.Files.Get $path)) -}}
{{- fail (printf "benchmark.scenario=%s: no such scenario; the chart has %s (the files under suites/)" $name (include "infergate.scenarioNames" .)) -}}
{{- end -}}
{{- $s := include "infergate.yamlFile" (dict "root" . "path" $path) | fromJson -}}
{{- $over := index ($b.scenarios | default dict) $name | default dict -}}
{{- if not (kindIs "map" $over) -}}
{{- fail (printf "benchmark.scenarios.%s must be a map of scenario keys (data, load, ...)" $name) -}}
{{- end -}}
{{- $over = index (include "infergate.translate" (dict "v" $over "parent" "") | fromJson) "v" -}}
{{- $t := $b.target -}}
{{- $server := dict -}}
{{- if $t.baseUrl }}{{ $_ := set $server "base_url" (toString $t.baseUrl) }}{{ end -}}
{{- if $t.modelName }}{{ $_ := set $server "model_name" (toString $t.modelName) }}{{ end -}}
{{- if $t.serverType }}{{ $_ := set $server "type" (toString $t.serverType) }}{{ end -}}
{{- if not (kindIs "invalid" $t.ignoreEos) }}{{ $_ := set $server "ignore_eos" $t.ignoreEos }}{{ end -}}
{{- $top := dict -}}
{{- if $server }}{{ $_ := set $top "server" $server }}{{ end -}}
{{- if $t.tokenizerPath -}}
{{- $_ := set $top "tokenizer" (dict "pretrained_model_name_or_path" (toString $t.tokenizerPath)) -}}
{{- end -}}
{{- $api := dict -}}
{{- if $b.api.type }}{{ $_ := set $api "type" $b.api.type }}{{ end -}}
{{- if not (kindIs "invalid" $b.api.streaming) }}{{ $_ := set $api "streaming" $b.api.streaming }}{{ end -}}
{{- if $api }}{{ $_ := set $top "api" $api }}{{ end -}}
{{- $s3 := $b.storage.s3 -}}
{{- $hasS3 := and (hasKey $s "storage") (hasKey (index $s "storage" | default dict) "simple_storage_service") -}}
{{- if or $s3.bucketName (and $s3.pathPrefix $hasS3) -}}
{{- $bucket := dict -}}
{{- if $s3.bucketName }}{{ $_ := set $bucket "bucket_name" (toString $s3.bucketName) }}{{ end -}}
{{- if $s3.pathPrefix }}{{ $_ := set $bucket "path" (toString $s3.pathPrefix) }}{{ end -}}
{{- $_ := set $top "storage" (dict "simple_storage_service" $bucket) -}}
{{- end -}}
{{- if $b.thresholds }}{{ $_ := set $top "thresholds" $b.thresholds }}{{ end -}}
{{- if not (kindIs "invalid" $b.regression.history) -}}
{{- $_ := set $top "regression" (dict "history" $b.regression.history) -}}
{{- end -}}
{{- $s = include "infergate.merge" (dict "base" $s "over" $over) | fromJson -}}
{{- $s = include "infergate.merge" (dict "base" $s "over" $top) | fromJson -}}
{{- if hasKey $s "thresholds" -}}
{{- $kept := dict -}}
{{- range $metric, $list := $s.thresholds -}}
{{- if not (and (kindIs "slice" $list) (empty (compact $list))) }}{{ $_ := set $kept $metric $list }}{{ end -}}
{{- end -}}
{{- $_ := set $s "thresholds" $kept -}}
{{- end -}}
{{- toJson $s -}}
{{- end -}}
