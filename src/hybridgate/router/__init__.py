"""The complexity router: features, token embedding, model, artifact, training and evaluation."""
