-- Which stream a checkpoint's offset belongs to (a file's fingerprint), so
-- that a rotation while Riposte was stopped is recognised on restart.
ALTER TABLE checkpoints ADD COLUMN identity TEXT;
