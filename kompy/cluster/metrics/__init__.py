"""metrics-server's part: samples the pods' containers at a fixed resolution and keeps, per
container, the CPU rate over the last window and the memory working set, as the
``metrics.k8s.io`` PodMetrics and NodeMetrics the API server serves (`kubectl top`, the HPA).
"""
