"""The TorchServe handler and the .mar builder (see the serving issue). Empty for now."""
