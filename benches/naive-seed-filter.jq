# The five seed reasons as a user would write them in jq: addresses of
# managed changes that delete, touch aws_iam_*, a policy attachment or a
# security group, or whose raw `policy` string differs.
[.resource_changes[]
 | select(.mode == "managed")
 | select(.change.actions != ["no-op"] and .change.actions != ["read"])
 | select(
     (.change.actions | index("delete"))
     or (.type | startswith("aws_iam_"))
     or (.type | test("_policy_attachments?(_exclusive)?$"))
     or (.type | test("^aws_(default_)?security_group(_rule)?$|^aws_vpc_security_group_(ingress|egress)_rule$"))
     or ((.change.before.policy // null) != (.change.after.policy // null))
   )
 | .address]
| length
