"""Sceau key registry: custody of private signing keys behind one small interface."""

from sceau_keys.custody import MIN_PASSPHRASE_LEN, Custody, EncryptedFileCustody

__version__ = "0.1.0"
__all__ = ["MIN_PASSPHRASE_LEN", "Custody", "EncryptedFileCustody", "__version__"]
