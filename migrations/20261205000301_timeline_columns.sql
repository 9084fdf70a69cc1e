-- The happy path of a recipient writes no event rows (issue 13: they were two of the ~13 rows
-- written per one-recipient SMS): its timeline's SENDING (the first take) and SENT (the
-- operator's acceptance, with its message id) are read from these columns of the status row.
-- Rows recorded before this migration keep null here and their event rows, so no timeline
-- shows an event twice. A SENT recorded without the operator's id (unusable or already used)
-- still writes its event row, whose detail says why. See docs/DESIGN.md "Timelines".
alter table sms_status
    add column taken_at datetime(6) null,
    add column sent_at  datetime(6) null;
