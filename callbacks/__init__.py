"""Training diagnostics as Keras callbacks: dead neurons, gradient flow, activation statistics
and exploding gradients, on TensorFlow, JAX and PyTorch.

Import them as ``from callbacks import ...`` and pass them to ``model.fit(callbacks=[...])``.
"""
