namespace WalsCluster.Core.Sparse;

/// <summary>
/// Compressed sparse row matrix with int32 indices and float values. Row r holds the column indices
/// <c>ColumnIndex[RowStart[r] .. RowStart[r+1])</c> in increasing order, without duplicates.
/// The CSC form of a matrix is the CSR form of its transpose (<see cref="Transpose"/>).
/// </summary>
public sealed class CsrMatrix
{
    public CsrMatrix(int rows, int columns, int[] rowStart, int[] columnIndex, float[] values)
    {
        if (rows < 0 || columns < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(rows), "Dimensions must be non-negative.");
        }
        if (rowStart.Length != rows + 1)
        {
            throw new ArgumentException($"rowStart must have rows + 1 = {rows + 1} entries, has {rowStart.Length}.", nameof(rowStart));
        }
        if (columnIndex.Length != values.Length || rowStart[rows] != values.Length)
        {
            throw new ArgumentException("columnIndex and values must both have rowStart[rows] entries.");
        }
        Rows = rows;
        Columns = columns;
        RowStart = rowStart;
        ColumnIndex = columnIndex;
        Values = values;
    }

    public int Rows { get; }
    public int Columns { get; }
    public int[] RowStart { get; }
    public int[] ColumnIndex { get; }
    public float[] Values { get; }
    public int NonZeros => Values.Length;

    public int RowLength(int row) => RowStart[row + 1] - RowStart[row];

    public ReadOnlySpan<int> RowIndices(int row) => ColumnIndex.AsSpan(RowStart[row], RowStart[row + 1] - RowStart[row]);

    public ReadOnlySpan<float> RowValues(int row) => Values.AsSpan(RowStart[row], RowStart[row + 1] - RowStart[row]);

    /// <summary>
    /// Builds a CSR matrix from coordinates in O(nnz + rows + columns): a counting pass, a scatter pass,
    /// then a per-row sort by column (rows are short, so this is linear in practice) that sums duplicates.
    /// </summary>
    public static CsrMatrix FromCoordinates(int rows, int columns, ReadOnlySpan<int> row, ReadOnlySpan<int> column, ReadOnlySpan<float> value)
    {
        if (row.Length != column.Length || row.Length != value.Length)
        {
            throw new ArgumentException("row, column and value must have the same length.");
        }
        var count = new int[rows + 1];
        for (var n = 0; n < row.Length; n++)
        {
            var r = row[n];
            if ((uint)r >= (uint)rows || (uint)column[n] >= (uint)columns)
            {
                throw new ArgumentOutOfRangeException(nameof(row), $"Entry {n} ({r}, {column[n]}) is outside a {rows} x {columns} matrix.");
            }
            count[r + 1]++;
        }
        for (var r = 0; r < rows; r++)
        {
            count[r + 1] += count[r];
        }
        var next = (int[])count.Clone();
        var cols = new int[row.Length];
        var vals = new float[row.Length];
        for (var n = 0; n < row.Length; n++)
        {
            var at = next[row[n]]++;
            cols[at] = column[n];
            vals[at] = value[n];
        }

        // Sort each row by column and sum duplicates in place, compacting as we go.
        var rowStart = new int[rows + 1];
        var write = 0;
        for (var r = 0; r < rows; r++)
        {
            var start = count[r];
            var end = count[r + 1];
            rowStart[r] = write;
            if (end - start > 1 && !IsStrictlyIncreasing(cols.AsSpan(start, end - start)))
            {
                Array.Sort(cols, vals, start, end - start);
            }
            for (var n = start; n < end; n++)
            {
                if (write > rowStart[r] && cols[write - 1] == cols[n])
                {
                    vals[write - 1] += vals[n];
                }
                else
                {
                    cols[write] = cols[n];
                    vals[write] = vals[n];
                    write++;
                }
            }
        }
        rowStart[rows] = write;
        if (write != cols.Length)
        {
            Array.Resize(ref cols, write);
            Array.Resize(ref vals, write);
        }
        return new CsrMatrix(rows, columns, rowStart, cols, vals);
    }

    /// <summary>The transpose (equivalently, this matrix in CSC form), built in O(nnz).</summary>
    public CsrMatrix Transpose()
    {
        var rowStart = new int[Columns + 1];
        foreach (var c in ColumnIndex)
        {
            rowStart[c + 1]++;
        }
        for (var c = 0; c < Columns; c++)
        {
            rowStart[c + 1] += rowStart[c];
        }
        var next = (int[])rowStart.Clone();
        var cols = new int[NonZeros];
        var vals = new float[NonZeros];
        for (var r = 0; r < Rows; r++)
        {
            for (var n = RowStart[r]; n < RowStart[r + 1]; n++)
            {
                var at = next[ColumnIndex[n]]++;
                cols[at] = r;
                vals[at] = Values[n];
            }
        }
        return new CsrMatrix(Columns, Rows, rowStart, cols, vals);
    }

    /// <summary>Value at (row, column), 0 when absent (binary search within the row).</summary>
    public float Get(int row, int column)
    {
        var at = Array.BinarySearch(ColumnIndex, RowStart[row], RowLength(row), column);
        return at >= 0 ? Values[at] : 0f;
    }

    private static bool IsStrictlyIncreasing(ReadOnlySpan<int> span)
    {
        for (var i = 1; i < span.Length; i++)
        {
            if (span[i] <= span[i - 1])
            {
                return false;
            }
        }
        return true;
    }
}
