"""Dataset readers (IDX/MNIST, N-MNIST in tonic's event layout, SHD, the embedded digits)
and augmentation.
"""

from spikewave._lazy import exports

__getattr__, __dir__, __all__ = exports(__name__, {
    "read_idx": ".idx", "load_mnist": ".mnist", "load_digits_split": ".digits",
    "Split": ".digits", "load_slayer_archive": ".nmnist", "events_to_frames": ".nmnist",
    "read_events": ".nmnist", "as_events": ".nmnist", "EVENT_DTYPE": ".nmnist",
    "NMNISTDataset": ".nmnist_full",
    "read_shd": ".shd", "spikes_to_frames": ".shd", "random_shift": ".augment",
    "download": ".download",
})
