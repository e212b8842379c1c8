namespace Alloy.IR;

/// <summary>
/// Hash codes for IR objects that compare by reference: handed out from a counter when the object is created.
/// The counter is not synchronized; a race only repeats a hash code, which tables tolerate.
/// </summary>
internal static class IdentityHash
{
    private static int s_next;

    public static int Next() => unchecked(s_next++ * -1640531535);
}
