"""COCO caption scores from pycocoevalcap's own scorers, without ``COCOEvalCap``.

The numbers equal ``COCOEvalCap.evaluate()`` run with ``params['image_id']`` set to the
predicted images (pycocoevalcap 1.2, ``eval.py``): the same PTB tokenizer jar and flags, the
same BLEU ('closest' reference length), METEOR, ROUGE-L and CIDEr-D scorers, fed in the same
order. What differs is only the plumbing around the two Java-backed steps:

- ``java`` missing from ``PATH`` gives one clear error instead of a ``FileNotFoundError``
  deep inside pycocoevalcap;
- the tokenizer writes its input to the system temp dir (pycocoevalcap writes next to its
  jar, which may be read-only) and its stderr chatter is captured, not printed;
- METEOR runs in a process we own and always reap: pycocoevalcap's ``Meteor`` never drains
  the child's stderr and, if the child dies mid-read, keeps its lock held so that ``__del__``
  deadlocks. Here a dead child raises with its stderr, and the process is killed on exit.
- SPICE never downloads: it runs only when its Stanford CoreNLP jars are already present.
"""

import os
import shutil
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from typing import IO, Optional, Union

from pycocoevalcap.bleu.bleu import Bleu
from pycocoevalcap.cider.cider import Cider
from pycocoevalcap.meteor import meteor as _meteor_module
from pycocoevalcap.rouge.rouge import Rouge
from pycocoevalcap.spice import get_stanford_models as _spice_models_module
from pycocoevalcap.tokenizer import ptbtokenizer as _ptb_module

__all__ = [
    'ImageId',
    'JavaNotFoundError',
    'require_java',
    'ptb_tokenize',
    'MeteorProcess',
    'spice_models_available',
    'spice_install_hint',
    'compute_spice',
    'score_tokenized',
    'CAPTION_METRIC_KEYS',
]

ImageId = Union[int, str]
CAPTION_METRIC_KEYS = ('Bleu_1', 'Bleu_2', 'Bleu_3', 'Bleu_4', 'METEOR', 'ROUGE_L', 'CIDEr')

_PTB_DIR = os.path.dirname(os.path.abspath(_ptb_module.__file__))
_PTB_JAR = os.path.join(_PTB_DIR, _ptb_module.STANFORD_CORENLP_3_4_1_JAR)
_METEOR_DIR = os.path.dirname(os.path.abspath(_meteor_module.__file__))
_SPICE_DIR = os.path.dirname(os.path.abspath(_spice_models_module.__file__))


class JavaNotFoundError(RuntimeError):
    """``java`` is not on ``PATH``; the PTB tokenizer, METEOR and SPICE need it."""


def require_java() -> str:
    """Return the path of the ``java`` executable or raise :class:`JavaNotFoundError`."""
    java = shutil.which('java')
    if java is None:
        raise JavaNotFoundError(
            'COCO caption evaluation needs Java: pycocoevalcap runs the Stanford PTB tokenizer '
            'and METEOR (and SPICE) as `java` subprocesses, but no `java` executable is on '
            'PATH. Install a JRE (e.g. `apt-get install default-jre-headless` or '
            '`conda install openjdk`) and make sure `java -version` works.'
        )
    return java


def _stderr_tail(stream: IO[bytes], limit: int = 2000) -> str:
    stream.seek(0)
    return stream.read().decode(errors='replace')[-limit:]


def ptb_tokenize(captions: Mapping[ImageId, Sequence[str]]) -> dict[ImageId, list[str]]:
    """Tokenize captions as ``pycocoevalcap.tokenizer.PTBTokenizer`` does.

    Lower-cased Stanford PTB tokens, punctuation tokens dropped, one java call in all.

    Args:
        captions: image id -> raw captions of that image.

    Returns:
        image id -> tokenized captions (space-joined), keys in input order.
    """
    java = require_java()
    image_ids = [key for key, caps in captions.items() for _ in caps]
    sentences = [cap.replace('\n', ' ') for caps in captions.values() for cap in caps]
    with tempfile.NamedTemporaryFile('wb', suffix='.txt', delete=False) as tmp:
        tmp.write('\n'.join(sentences).encode())
    try:
        cmd = [
            java,
            '-cp',
            _PTB_JAR,
            'edu.stanford.nlp.process.PTBTokenizer',
            '-preserveLines',
            '-lowerCase',
            tmp.name,
        ]
        proc = subprocess.run(cmd, capture_output=True, check=False)
    finally:
        os.remove(tmp.name)
    if proc.returncode != 0:
        raise RuntimeError(
            f'The PTB tokenizer ({" ".join(cmd)}) exited with '
            f'{proc.returncode}: {proc.stderr.decode(errors="replace")[-2000:]}'
        )
    lines = proc.stdout.decode().split('\n')
    if len(lines) < len(sentences):
        raise RuntimeError(
            f'The PTB tokenizer returned {len(lines)} lines for {len(sentences)} captions.'
        )
    tokenized: dict[ImageId, list[str]] = {}
    for key, line in zip(image_ids, lines):
        words = [w for w in line.rstrip().split(' ') if w not in _ptb_module.PUNCTUATIONS]
        tokenized.setdefault(key, []).append(' '.join(words))
    return tokenized


class MeteorProcess:
    """METEOR 1.5 over stdio, the protocol of ``pycocoevalcap.meteor.Meteor``.

    Use as a context manager; the java child is always reaped on exit.
    """

    def __init__(self) -> None:
        java = require_java()
        cmd = [
            java,
            '-jar',
            '-Xmx2G',
            _meteor_module.METEOR_JAR,
            '-',
            '-',
            '-stdio',
            '-l',
            'en',
            '-norm',
        ]
        # A file, not a pipe: a pipe nobody drains can fill up and block the child.
        self._stderr = tempfile.TemporaryFile()
        self._proc = subprocess.Popen(
            cmd, cwd=_METEOR_DIR, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr
        )

    def __enter__(self) -> 'MeteorProcess':
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close stdin, give the child a moment to exit, then kill it."""
        proc = self._proc
        if proc.poll() is None:
            try:
                proc.stdin.close()
                proc.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired):
                proc.kill()
                proc.wait()
        for stream in (proc.stdin, proc.stdout):
            try:
                stream.close()
            except OSError:  # unflushed input to a child that already died
                pass
        self._stderr.close()

    def _ask(self, line: str) -> None:
        try:
            self._proc.stdin.write(f'{line}\n'.encode())
            self._proc.stdin.flush()
        except BrokenPipeError as err:
            raise self._died() from err

    def _answer(self) -> str:
        out = self._proc.stdout.readline()
        if not out:
            raise self._died()
        return out.decode().strip()

    def _died(self) -> RuntimeError:
        self._proc.wait()
        return RuntimeError(
            f'METEOR (java) exited with {self._proc.returncode}: {_stderr_tail(self._stderr)}'
        )

    def compute_score(
        self, gts: Mapping[ImageId, list[str]], res: Mapping[ImageId, list[str]]
    ) -> tuple[float, list[float]]:
        """Corpus METEOR and per-image scores, as ``Meteor.compute_score``."""
        assert gts.keys() == res.keys()
        eval_line = 'EVAL'
        for key in gts:
            hypothesis = res[key][0].replace('|||', '').replace('  ', ' ')
            self._ask(' ||| '.join(('SCORE', ' ||| '.join(gts[key]), hypothesis)))
            eval_line += f' ||| {self._answer()}'
        self._ask(eval_line)
        scores = [float(self._answer()) for _ in gts]
        return float(self._answer()), scores


def spice_models_available() -> bool:
    """Whether SPICE's Stanford CoreNLP 3.6.0 jars are on disk (it downloads them otherwise)."""
    lib = os.path.join(_SPICE_DIR, _spice_models_module.SPICELIB)
    jar = _spice_models_module.JAR
    return all(
        os.path.isfile(os.path.join(lib, name)) for name in (f'{jar}.jar', f'{jar}-models.jar')
    )


def spice_install_hint() -> str:
    """How to fetch SPICE's models once, on a machine with network access."""
    return (
        'SPICE needs Stanford CoreNLP 3.6.0 (about 400 MB) in '
        f'{os.path.join(_SPICE_DIR, _spice_models_module.SPICELIB)}; download it once with '
        '`python -c "from pycocoevalcap.spice.get_stanford_models import '
        'get_stanford_models; get_stanford_models()"` (network needed) or copy '
        f'{_spice_models_module.JAR}.jar and {_spice_models_module.JAR}-models.jar there.'
    )


def compute_spice(gts: Mapping[ImageId, list[str]], res: Mapping[ImageId, list[str]]) -> float:
    """Corpus SPICE F-score; refuses to run (never downloads) without the CoreNLP models."""
    require_java()
    if not spice_models_available():
        raise RuntimeError(f'SPICE is unavailable. {spice_install_hint()}')
    # Imported here: the Spice module is only needed when its models exist.
    from pycocoevalcap.spice.spice import Spice

    score, _ = Spice().compute_score(gts, res)
    return float(score)


def score_tokenized(
    gts: Mapping[ImageId, list[str]],
    res: Mapping[ImageId, list[str]],
    meteor: Optional[MeteorProcess] = None,
) -> dict[str, float]:
    """BLEU-1..4, METEOR, ROUGE-L and CIDEr-D of tokenized captions (``COCOEvalCap``'s order).

    Args:
        gts: image id -> tokenized reference captions.
        res: image id -> a one-element list holding the tokenized prediction; same keys and
            order as ``gts``.
        meteor: a running :class:`MeteorProcess` to reuse; one is started (and reaped) if None.

    Returns:
        The scores in the 0..1 scale (CIDEr-D is unbounded, 10 x a mean cosine similarity).
    """
    if gts.keys() != res.keys():
        raise ValueError('gts and res must hold the same image ids.')
    bleu, _ = Bleu(4).compute_score(gts, res, verbose=0)
    scores = {f'Bleu_{n}': float(value) for n, value in enumerate(bleu, start=1)}
    if meteor is None:
        with MeteorProcess() as own_meteor:
            scores['METEOR'] = own_meteor.compute_score(gts, res)[0]
    else:
        scores['METEOR'] = meteor.compute_score(gts, res)[0]
    scores['ROUGE_L'] = float(Rouge().compute_score(gts, res)[0])
    scores['CIDEr'] = float(Cider().compute_score(gts, res)[0])
    return scores
