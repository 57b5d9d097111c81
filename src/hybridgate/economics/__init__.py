"""Economics: what each workload costs on an API, on self-hosted GPUs or split between them.

catalogue    shipped, editable prices (API models, GPUs) and their loader
throughput   reference throughputs per self-hosted model and GPU, with sources
pricing      api_cost() and the self-hosted per-token cost
tco          monthly API / self-hosted / hybrid cost and the break-even volume
sensitivity  the tornado table
charts       PNG charts (matplotlib, Agg)
report       per-workload economics from UsageRecords; render writes Markdown / HTML
assess       the five-step questionnaire and the scenario table; starter writes a hybridgate.yaml
"""
