"""Shared test setup: no network, small fixtures.

Every hub call must fail at once instead of hanging, so the offline switches are set before
transformers or huggingface_hub are imported anywhere.
"""
import os

os.environ['HF_HUB_OFFLINE'] = '1'
os.environ['TRANSFORMERS_OFFLINE'] = '1'
os.environ.setdefault('OMP_NUM_THREADS', '2')
