"""Head sampling by trace id, deterministic so that every service of one trace agrees.

The decision matches LangSmith's SDKs (``LANGSMITH_TRACING_SAMPLING_RATE``): XXH3-128 of the lowercase
trace id, modulo 1,000,000, compared with the rate. Trace ids are canonical UUID strings (36 bytes),
so only XXH3's 17-128 byte path is needed; it is written out here so the core needs no dependency,
and ``xxhash`` is used instead when installed (the ``speedups`` extra).
"""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["is_sampled", "xxh3_128"]

_MASK64 = (1 << 64) - 1
_P64_1 = 0x9E3779B185EBCA87
_P64_2 = 0xC2B2AE3D27D4EB4F
_P64_4 = 0x85EBCA77C2B2AE63
_P32_1 = 0x9E3779B1
_SECRET = bytes.fromhex(
    "b8fe6c3923a44bbe7c01812cf721ad1cded46de9839097db7240a4a4b7b3671fcb79e64eccc0e578825ad07dccff7221"
    "b8084674f743248ee03590e6813a264c3c2852bb91c300cb88d0658b1b532ea371644897a20df94e3819ef46a9deacd8"
    "a8fa763fe39c343ff9dcbbc7c70b4f1d8a51e04bcdb45931c89f7ec9d9787364eac5ac8334d3ebc3c581a0fffa1363eb"
    "170ddd51b7f0da49d316552629d4689e2b16be587d47a1fc8ff8b8d17ad031ce45cb3a8f95160428afd7fbcabb4b407e"
)
_MODULUS = 1_000_000


def _u64(data: bytes, at: int) -> int:
    return int.from_bytes(data[at : at + 8], "little")


def _avalanche(h: int) -> int:
    h ^= h >> 37
    h = (h * 0x165667919E3779F9) & _MASK64
    return h ^ (h >> 32)


def _mix16(data: bytes, at: int, secret_at: int) -> int:
    product = (_u64(data, at) ^ _u64(_SECRET, secret_at)) * (_u64(data, at + 8) ^ _u64(_SECRET, secret_at + 8))
    return ((product & _MASK64) ^ (product >> 64)) & _MASK64


def _mix32(acc: tuple[int, int], data: bytes, first: int, second: int, secret_at: int) -> tuple[int, int]:
    low, high = acc
    low = (low + _mix16(data, first, secret_at)) & _MASK64
    low ^= (_u64(data, second) + _u64(data, second + 8)) & _MASK64
    high = (high + _mix16(data, second, secret_at + 16)) & _MASK64
    high ^= (_u64(data, first) + _u64(data, first + 8)) & _MASK64
    return low, high


def xxh3_128(data: bytes) -> int:
    """XXH3-128 (seed 0) of 17 to 128 bytes, as an integer (``xxhash.xxh3_128_intdigest``)."""
    length = len(data)
    if not 17 <= length <= 128:
        raise ValueError("this XXH3-128 covers inputs of 17 to 128 bytes")
    acc = ((length * _P64_1) & _MASK64, 0)
    if length > 32:
        if length > 64:
            if length > 96:
                acc = _mix32(acc, data, 48, length - 64, 96)
            acc = _mix32(acc, data, 32, length - 48, 64)
        acc = _mix32(acc, data, 16, length - 32, 32)
    low, high = _mix32(acc, data, 0, length - 16, 0)
    low_out = (low + high) & _MASK64
    high_out = (low * _P64_1 + high * _P64_4 + ((length * _P64_2) & _MASK64)) & _MASK64
    return (((-_avalanche(high_out)) & _MASK64) << 64) | _avalanche(low_out)


def _pick_hash() -> Callable[[bytes], int]:
    try:
        import xxhash
    except ImportError:
        return xxh3_128
    fast: Callable[[bytes], int] = xxhash.xxh3_128_intdigest
    return fast


_hash = _pick_hash()


def is_sampled(trace_id: str, rate: float) -> bool:
    """Whether a trace is recorded at ``rate`` (0..1); the same answer in every service and SDK."""
    if rate >= 1:
        return True
    if rate <= 0:
        return False
    data = trace_id.lower().encode()
    digest = _hash(data) if 17 <= len(data) <= 128 else xxh3_128(data.ljust(17, b"\0")[:128])
    return (digest % _MODULUS) / _MODULUS < rate
