# The seeds' `helm install` lines, pasted unchanged but for the chart: `ai-on-eks/benchmark-charts`
# is `charts/infergate` here (from a checkout: `helm install production-sim charts/infergate ...`).
# `scripts/helm.py check` renders each with Helm's engine, lints and validates it (the values files
# are the seeds' own, beside this file); tests/it/helm_chart.rs checks what each Job would run.

# Seed 000 (and its Korean twin, 001): Scenario 4 - Production Simulation
helm install production-sim charts/infergate \
  --set benchmark.scenario=production \
  --set benchmark.target.baseUrl=http://qwen3-vllm.default:8000 \
  --set benchmark.target.modelName=qwen3-8b \
  --set benchmark.target.tokenizerPath=Qwen/Qwen3-8B \
  --namespace benchmarking --create-namespace

helm install production-sim charts/infergate -f custom-production.yaml -n benchmarking

# Seed 002: Scenario 1 - Baseline Performance
helm install baseline-test charts/infergate \
  --set benchmark.scenario=baseline \
  --set benchmark.target.baseUrl=http://qwen3-vllm.default:8000 \
  --set benchmark.target.modelName=qwen3-8b \
  --set benchmark.target.tokenizerPath=Qwen/Qwen3-8B \
  --namespace benchmarking --create-namespace

helm install baseline-test charts/infergate \
  --set benchmark.scenario=baseline \
  --set benchmark.target.baseUrl=http://your-model.your-namespace:8000 \
  --set benchmark.scenarios.baseline.load.stages[0].duration=600 \
  --set benchmark.resources.main.requests.cpu=4 \
  --namespace benchmarking

helm install baseline-test charts/infergate -f my-values.yaml -n benchmarking

# Seed 004: Scenario 2 - Saturation
helm install saturation-test charts/infergate \
--set benchmark.scenario=saturation \
--set benchmark.target.baseUrl=http://qwen3-vllm.default:8000 \
--set benchmark.target.modelName=qwen3-8b \
--set benchmark.target.tokenizerPath=Qwen/Qwen3-8B \
--namespace benchmarking --create-namespace

helm install saturation-test charts/infergate -f custom-saturation.yaml -n benchmarking
