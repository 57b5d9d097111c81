"""Helper processes that hold what every worker would otherwise load for itself.

ner_server   the NER model behind a Unix socket, one process shared by all workers
ner_client   RemoteNer: the Detector the workers use to reach it (fails closed)
wire         the framing both sides speak
"""
