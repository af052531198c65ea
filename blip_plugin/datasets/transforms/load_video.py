"""Video loading for zero-shot video-language tasks (paper section 5.6; official
data/video_dataset.py): N frames sampled per clip, decoded with PyAV (FFmpeg) and resized to
the ViT's square input, cached per video.

The official code decodes with decord at ``width = height = image_size`` and samples
``np.arange(0, vlen, vlen / N, dtype=int)``: numpy truncates the step, so frame ``i`` is
``i * (vlen // N)`` (:func:`sample_frame_indices`, ``'uniform'``). FFmpeg's scaler resizes here
too (bicubic, as FFmpeg's default), so frames match the official ones up to the decoder.
"""

import hashlib
import os
import os.path as osp
from collections import OrderedDict
from typing import Any, Optional, Sequence

import numpy as np
from mmcv.transforms import BaseTransform
from mmengine.logging import MMLogger

from blip_plugin.registry import TRANSFORMS

from .load_image import describe_annotation

__all__ = [
    'BlipLoadVideo',
    'UnreadableVideoError',
    'read_video',
    'sample_frame_indices',
    'SAMPLINGS',
]

SAMPLINGS = ('uniform', 'middle')
SEEK_GAP = 32  # decode forward through gaps up to this many frames instead of seeking


class UnreadableVideoError(OSError):
    """A video file is missing or cannot be decoded (the message names file and annotation)."""


def sample_frame_indices(total: int, num_frames: int, sampling: str = 'uniform') -> np.ndarray:
    """Indices of ``num_frames`` frames out of ``total``.

    Args:
        total: frames in the video (>= 1).
        num_frames: frames to sample (>= 1).
        sampling: ``'uniform'``: the official ``np.arange(0, total, total / N, dtype=int)``,
            i.e. frame ``i * (total // N)`` (numpy truncates the step), the start of each of N
            equal segments; clips shorter than N frames (where the official indices are all
            0) get ``i * total // N``. ``'middle'``: the centre of each of N equal segments,
            ``int((i + 0.5) * total / N)``, which covers the whole clip.

    Returns:
        (num_frames,) int64 indices, non-decreasing.
    """
    if total < 1 or num_frames < 1:
        raise ValueError(f'need total >= 1 and num_frames >= 1, got {total}, {num_frames}')
    i = np.arange(num_frames, dtype=np.int64)
    if sampling == 'uniform':
        return i * (total // num_frames) if total >= num_frames else i * total // num_frames
    if sampling == 'middle':
        return ((i + 0.5) * total / num_frames).astype(np.int64)
    raise ValueError(f'sampling must be one of {SAMPLINGS}, got {sampling!r}')


def _frame_count(container: Any, stream: Any) -> int:
    """Frames of a stream from the container's metadata; 0 when it does not say."""
    if stream.frames:
        return int(stream.frames)
    rate = stream.average_rate or stream.guessed_rate
    if rate and stream.duration and stream.time_base:
        return int(round(float(stream.duration * stream.time_base * rate)))
    if rate and container.duration:
        return int(round(container.duration / 1_000_000 * float(rate)))  # AV_TIME_BASE us
    return 0


def _to_rgb(frame: Any, size: Optional[tuple]) -> np.ndarray:
    if size is None:
        return frame.to_ndarray(format='rgb24')
    width, height = size
    return frame.reformat(
        width=width, height=height, format='rgb24', interpolation='BICUBIC'
    ).to_ndarray()


def _decode_all(container: Any, stream: Any, size: Optional[tuple]) -> list:
    container.seek(0)
    return [_to_rgb(f, size) for f in container.decode(stream)]


def _decode_at(container: Any, stream: Any, wanted: Sequence[int], size: Optional[tuple]) -> dict:
    """Frames at the (sorted, distinct) indices ``wanted``, seeking to the key frame before a
    target that lies more than :data:`SEEK_GAP` frames ahead. Frame indices come from the
    presentation timestamps (constant frame rate); a target past the end of the stream gets
    the last frame."""
    rate = float(stream.average_rate or stream.guessed_rate)
    tb = float(stream.time_base)
    start = stream.start_time or 0
    out: dict = {}
    frames, pos, last = None, -1, None
    for target in wanted:
        if frames is None or target - pos > SEEK_GAP:
            container.seek(start + int(target / rate / tb), stream=stream, backward=True)
            frames = container.decode(stream)
        for frame in frames:
            if frame.pts is None:
                raise ValueError('frames without timestamps')
            pos, last = int(round((frame.pts - start) * tb * rate)), frame
            if pos >= target:
                break
        if last is None:
            raise ValueError('no frame decoded')
        out[target] = _to_rgb(last, size)
    return out


def read_video(
    path: str,
    num_frames: int,
    sampling: str = 'uniform',
    size: Optional[tuple] = None,
) -> tuple:
    """Decode ``num_frames`` sampled frames of the first video stream of ``path``.

    Args:
        path: a video file FFmpeg reads (mp4, avi, webm, ...).
        num_frames: frames to sample (:func:`sample_frame_indices`).
        sampling: ``'uniform'`` (official) or ``'middle'``.
        size: ``(width, height)`` to resize every frame to (FFmpeg bicubic); None keeps it.

    Returns:
        ``(frames (T, H, W, 3) uint8 RGB, indices (T,), total frames, (H, W) of the source)``.

    Raises:
        FileNotFoundError: no such file. Other exceptions (PyAV's ``av.FFmpegError``,
        ValueError) for a file without a decodable video stream.
    """
    import av  # PyAV: the ``video`` extra

    if not osp.isfile(path):
        raise FileNotFoundError(path)
    with av.open(path) as container:
        if not container.streams.video:
            raise ValueError('no video stream')
        stream = container.streams.video[0]
        stream.thread_type = 'AUTO'
        ori_shape = (stream.codec_context.height, stream.codec_context.width)
        total = _frame_count(container, stream)
        decoded = None
        if total > 0:
            indices = sample_frame_indices(total, num_frames, sampling)
            try:
                decoded = _decode_at(container, stream, sorted(set(indices.tolist())), size)
            except ValueError:  # no timestamps: decode everything instead
                decoded = None
        if decoded is None:
            every = _decode_all(container, stream, size)
            if not every:
                raise ValueError('no frame decoded')
            total = len(every)
            indices = sample_frame_indices(total, num_frames, sampling)
            decoded = {int(i): every[int(i)] for i in indices}
    frames = np.stack([decoded[int(i)] for i in indices])  # (T, H, W, 3)
    return frames, indices, total, ori_shape


@TRANSFORMS.register_module()
class BlipLoadVideo(BaseTransform):
    """Load ``num_frames`` frames of ``results['video_path']`` as ``results['video']``,
    a (T, 3, H, W) uint8 RGB array (channels first, so ``PackInputs(input_key='video')``
    packs it as is), resized to ``scale``.

    Frames are cached per video: in memory (the last ``cache_size`` videos of this worker) and,
    with ``cache_dir``, on disk as ``.npy`` files keyed by the file, its size and modification
    time and the sampling arguments, shared by workers and runs (video QA asks many questions
    about each video).

    A missing or undecodable file raises :class:`UnreadableVideoError` naming the file, the
    reason and the annotation (``on_error='raise'``, the default), or with ``'skip'`` logs
    a warning and returns None (training only; see ``BlipLoadImage``).

    Args:
        num_frames: frames per video. Defaults to 8 (official retrieval; QA uses 16).
        sampling: see :func:`sample_frame_indices`. Defaults to 'uniform' (official).
        scale: ``(width, height)`` or one side of a square; None keeps the source size.
            Defaults to 384 (official ``image_size``).
        cache_size: videos kept in memory; 0 disables. Defaults to 64.
        cache_dir: folder of the disk cache; None disables. Defaults to None.
        on_error: ``'raise'`` or ``'skip'``. Defaults to ``'raise'``.
    """

    def __init__(
        self,
        num_frames: int = 8,
        sampling: str = 'uniform',
        scale: Optional[Any] = 384,
        cache_size: int = 64,
        cache_dir: Optional[str] = None,
        on_error: str = 'raise',
    ) -> None:
        if num_frames < 1:
            raise ValueError(f'BlipLoadVideo: num_frames must be >= 1, got {num_frames}')
        if sampling not in SAMPLINGS:
            raise ValueError(
                f'BlipLoadVideo: sampling must be one of {SAMPLINGS}, got {sampling!r}'
            )
        if on_error not in ('raise', 'skip'):
            raise ValueError(f"BlipLoadVideo: on_error must be 'raise' or 'skip', got {on_error!r}")
        self.num_frames, self.sampling = num_frames, sampling
        self.size = (scale, scale) if isinstance(scale, int) else (tuple(scale) if scale else None)
        self.cache_size, self.cache_dir, self.on_error = cache_size, cache_dir, on_error
        self._cache: OrderedDict = OrderedDict()
        self.skipped = 0

    def _key(self, path: str) -> str:
        st = os.stat(path)
        parts = (osp.abspath(path), st.st_size, st.st_mtime_ns, self.num_frames, self.sampling)
        return hashlib.sha1(repr((*parts, self.size)).encode()).hexdigest()

    def _load(self, path: str) -> tuple:
        key = self._key(path)
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        disk = osp.join(self.cache_dir, f'{key}.npz') if self.cache_dir else None
        if disk and osp.isfile(disk):
            with np.load(disk) as z:
                item = (z['frames'], z['indices'], int(z['total']), tuple(z['ori_shape']))
        else:
            item = read_video(path, self.num_frames, self.sampling, self.size)
            if disk:
                os.makedirs(self.cache_dir, exist_ok=True)
                tmp = f'{disk}.{os.getpid()}.tmp.npz'
                np.savez(tmp, frames=item[0], indices=item[1], total=item[2], ori_shape=item[3])
                os.replace(tmp, disk)  # atomic: workers may write the same video
        if self.cache_size > 0:
            self._cache[key] = item
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
        return item

    def transform(self, results: dict) -> Optional[dict]:
        path = results.get('video_path')
        try:
            if not isinstance(path, str):
                raise ValueError(f'video_path must be a str, got {path!r}')
            frames, indices, total, ori_shape = self._load(path)
        except Exception as e:  # missing file, no video stream, FFmpeg decoding errors
            reason = 'file not found' if isinstance(e, FileNotFoundError) else str(e) or repr(e)
            message = (
                f'cannot read video {path!r} ({reason}), asked for by annotation '
                f'{describe_annotation(results)}'
            )
            if self.on_error == 'raise':
                raise UnreadableVideoError(
                    f"{message}. Fix or remove it, or set on_error='skip' in BlipLoadVideo "
                    'to skip such samples (counted in the log).'
                ) from e
            self.skipped += 1
            MMLogger.get_current_instance().warning(
                f'{message}: skipped ({self.skipped} unreadable videos skipped so far '
                'in this process).'
            )
            return None
        results['video'] = np.ascontiguousarray(frames.transpose(0, 3, 1, 2))  # (T, 3, H, W)
        results['frame_inds'] = indices
        results['total_frames'] = total
        results['img_shape'] = frames.shape[1:3]
        results['ori_shape'] = ori_shape
        return results

    def __repr__(self) -> str:
        return (
            f'{type(self).__name__}(num_frames={self.num_frames}, sampling={self.sampling!r}, '
            f'scale={self.size}, cache_size={self.cache_size}, cache_dir={self.cache_dir!r}, '
            f'on_error={self.on_error!r})'
        )
