"""`--max-minutes`: stop training cleanly when the wall-clock budget is spent.

The budget covers the whole run. Training stops at the first optimizer step that ends after the
deadline, which the caller sets early enough to leave room for the final evaluation and save.
"""

from __future__ import annotations

import time

from transformers import TrainerCallback, TrainerControl, TrainerState, TrainingArguments


class TimeBudget(TrainerCallback):
    """Ends training after the step that crosses `deadline` (a `time.monotonic()` value)."""

    def __init__(self, deadline: float, checkpoint_on_stop: bool):
        self.deadline = deadline
        self.checkpoint_on_stop = checkpoint_on_stop
        self.stopped = False

    def on_step_end(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs
    ) -> TrainerControl:
        if time.monotonic() >= self.deadline and not control.should_training_stop:
            self.stopped = True
            control.should_training_stop = True
            # A checkpoint at the stop lets --resume carry on from here, when checkpoints are kept.
            control.should_save = control.should_save or self.checkpoint_on_stop
        return control
