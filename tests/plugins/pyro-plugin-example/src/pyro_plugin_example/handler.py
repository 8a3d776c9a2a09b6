"""``example_handler``: tag every sample site's ``infer`` dict with a label."""

from pyro.poutine.messenger import Messenger, bind


class ExampleMessenger(Messenger):
    """Set ``msg["infer"]["example_label"] = label`` at every sample site."""

    def __init__(self, label="example"):
        super().__init__()
        self.label = label

    def _pyro_sample(self, msg):
        msg["infer"]["example_label"] = self.label


def example_handler(fn=None, label="example"):
    """Run ``fn`` (or return a context) under :class:`ExampleMessenger`."""
    return bind(ExampleMessenger(label), fn)
