"""What every layer may use and that uses none of them: today the event channel (`events`)."""
