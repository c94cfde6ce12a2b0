/*
 * The Virtual Disk API (virtdisk.dll) as the Windows SDK declares it
 * (10.0.22000 um/virtdisk.h: the field order of every structure), for the
 * vdsshim virtdisk.dll and its clients. mingw-w64's virtdisk.h is not the
 * SDK: its CREATE_VIRTUAL_DISK_PARAMETERS Version2 lacks
 * PhysicalSectorSizeInBytes, so every later field sits 8 bytes early, and
 * it lacks newer flags and GetAllAttachedVirtualDiskPhysicalPaths
 * (virtdisk-reference.md §2.4). Include this instead; it defines mingw's
 * guard, so a later <virtdisk.h> adds nothing. Installed as
 * <vdsshim-sdk/virtdisk.h>.
 */
#ifndef VDSSHIM_VIRTDISK_H
#define VDSSHIM_VIRTDISK_H
#define _INC_VIRTDISK

#include <windows.h>

#ifdef __cplusplus
extern "C" {
#endif

#ifdef VDSSHIM_VIRTDISK_BUILD
#define VDSSHIM_VIRTDISKAPI
#else
#define VDSSHIM_VIRTDISKAPI DECLSPEC_IMPORT
#endif

#define VIRTUAL_STORAGE_TYPE_DEVICE_UNKNOWN 0
#define VIRTUAL_STORAGE_TYPE_DEVICE_ISO     1
#define VIRTUAL_STORAGE_TYPE_DEVICE_VHD     2
#define VIRTUAL_STORAGE_TYPE_DEVICE_VHDX    3
#define VIRTUAL_STORAGE_TYPE_DEVICE_VHDSET  4

#ifndef VDSSHIM_VIRTUAL_STORAGE_TYPE_DEFINED
#define VDSSHIM_VIRTUAL_STORAGE_TYPE_DEFINED
typedef struct _VIRTUAL_STORAGE_TYPE
{
    ULONG DeviceId;
    GUID VendorId;
} VIRTUAL_STORAGE_TYPE, *PVIRTUAL_STORAGE_TYPE;
#endif

/* {EC984AEC-A0F9-47E9-901F-71415A66345B} and the all-zero GUID. */
static const GUID VDSSHIM_VENDOR_MICROSOFT = { 0xec984aec, 0xa0f9, 0x47e9, { 0x90, 0x1f, 0x71, 0x41, 0x5a, 0x66, 0x34, 0x5b } };
static const GUID VDSSHIM_VENDOR_UNKNOWN = { 0 };
#define VIRTUAL_STORAGE_TYPE_VENDOR_MICROSOFT VDSSHIM_VENDOR_MICROSOFT
#define VIRTUAL_STORAGE_TYPE_VENDOR_UNKNOWN VDSSHIM_VENDOR_UNKNOWN

typedef enum _VIRTUAL_DISK_ACCESS_MASK
{
    VIRTUAL_DISK_ACCESS_NONE = 0x00000000,
    VIRTUAL_DISK_ACCESS_ATTACH_RO = 0x00010000,
    VIRTUAL_DISK_ACCESS_ATTACH_RW = 0x00020000,
    VIRTUAL_DISK_ACCESS_DETACH = 0x00040000,
    VIRTUAL_DISK_ACCESS_GET_INFO = 0x00080000,
    VIRTUAL_DISK_ACCESS_CREATE = 0x00100000,
    VIRTUAL_DISK_ACCESS_METAOPS = 0x00200000,
    VIRTUAL_DISK_ACCESS_READ = 0x000d0000,
    VIRTUAL_DISK_ACCESS_ALL = 0x003f0000,
    VIRTUAL_DISK_ACCESS_WRITABLE = 0x00320000,
} VIRTUAL_DISK_ACCESS_MASK;

typedef enum _OPEN_VIRTUAL_DISK_FLAG
{
    OPEN_VIRTUAL_DISK_FLAG_NONE = 0x0,
    OPEN_VIRTUAL_DISK_FLAG_NO_PARENTS = 0x1,
    OPEN_VIRTUAL_DISK_FLAG_BLANK_FILE = 0x2,
    OPEN_VIRTUAL_DISK_FLAG_BOOT_DRIVE = 0x4,
    OPEN_VIRTUAL_DISK_FLAG_CACHED_IO = 0x8,
    OPEN_VIRTUAL_DISK_FLAG_CUSTOM_DIFF_CHAIN = 0x10,
    OPEN_VIRTUAL_DISK_FLAG_PARENT_CACHED_IO = 0x20,
    OPEN_VIRTUAL_DISK_FLAG_VHDSET_FILE_ONLY = 0x40,
    OPEN_VIRTUAL_DISK_FLAG_IGNORE_RELATIVE_PARENT_LOCATOR = 0x80,
    OPEN_VIRTUAL_DISK_FLAG_NO_WRITE_HARDENING = 0x100,
} OPEN_VIRTUAL_DISK_FLAG;

#define OPEN_VIRTUAL_DISK_RW_DEPTH_DEFAULT 1

typedef enum _OPEN_VIRTUAL_DISK_VERSION
{
    OPEN_VIRTUAL_DISK_VERSION_UNSPECIFIED = 0,
    OPEN_VIRTUAL_DISK_VERSION_1 = 1,
    OPEN_VIRTUAL_DISK_VERSION_2 = 2,
    OPEN_VIRTUAL_DISK_VERSION_3 = 3,
} OPEN_VIRTUAL_DISK_VERSION;

typedef struct _OPEN_VIRTUAL_DISK_PARAMETERS
{
    OPEN_VIRTUAL_DISK_VERSION Version;
    union
    {
        struct { ULONG RWDepth; } Version1;
        struct { BOOL GetInfoOnly; BOOL ReadOnly; GUID ResiliencyGuid; } Version2;
        struct { BOOL GetInfoOnly; BOOL ReadOnly; GUID ResiliencyGuid; GUID SnapshotId; } Version3;
    };
} OPEN_VIRTUAL_DISK_PARAMETERS, *POPEN_VIRTUAL_DISK_PARAMETERS;

typedef enum _CREATE_VIRTUAL_DISK_FLAG
{
    CREATE_VIRTUAL_DISK_FLAG_NONE = 0x0,
    CREATE_VIRTUAL_DISK_FLAG_FULL_PHYSICAL_ALLOCATION = 0x1,
    CREATE_VIRTUAL_DISK_FLAG_PREVENT_WRITES_TO_SOURCE_DISK = 0x2,
    CREATE_VIRTUAL_DISK_FLAG_DO_NOT_COPY_METADATA_FROM_PARENT = 0x4,
} CREATE_VIRTUAL_DISK_FLAG;

typedef enum _CREATE_VIRTUAL_DISK_VERSION
{
    CREATE_VIRTUAL_DISK_VERSION_UNSPECIFIED = 0,
    CREATE_VIRTUAL_DISK_VERSION_1 = 1,
    CREATE_VIRTUAL_DISK_VERSION_2 = 2,
    CREATE_VIRTUAL_DISK_VERSION_3 = 3,
    CREATE_VIRTUAL_DISK_VERSION_4 = 4,
} CREATE_VIRTUAL_DISK_VERSION;

#define CREATE_VIRTUAL_DISK_PARAMETERS_DEFAULT_BLOCK_SIZE 0
#define CREATE_VIRTUAL_DISK_PARAMETERS_DEFAULT_SECTOR_SIZE 0

typedef struct _CREATE_VIRTUAL_DISK_PARAMETERS
{
    CREATE_VIRTUAL_DISK_VERSION Version;
    union
    {
        struct
        {
            GUID UniqueId;
            ULONGLONG MaximumSize;
            ULONG BlockSizeInBytes;
            ULONG SectorSizeInBytes;
            PCWSTR ParentPath;
            PCWSTR SourcePath;
        } Version1;
        struct
        {
            GUID UniqueId;
            ULONGLONG MaximumSize;
            ULONG BlockSizeInBytes;
            ULONG SectorSizeInBytes;
            ULONG PhysicalSectorSizeInBytes;    /* the field mingw lacks */
            PCWSTR ParentPath;
            PCWSTR SourcePath;
            OPEN_VIRTUAL_DISK_FLAG OpenFlags;
            VIRTUAL_STORAGE_TYPE ParentVirtualStorageType;
            VIRTUAL_STORAGE_TYPE SourceVirtualStorageType;
            GUID ResiliencyGuid;
        } Version2;
        /* Windows 10's: Version2's fields, then the two below (Version3), then
         * two more (Version4); the union is then 184 bytes on x64, 160 on x86. */
        struct
        {
            GUID UniqueId;
            ULONGLONG MaximumSize;
            ULONG BlockSizeInBytes;
            ULONG SectorSizeInBytes;
            ULONG PhysicalSectorSizeInBytes;
            PCWSTR ParentPath;
            PCWSTR SourcePath;
            OPEN_VIRTUAL_DISK_FLAG OpenFlags;
            VIRTUAL_STORAGE_TYPE ParentVirtualStorageType;
            VIRTUAL_STORAGE_TYPE SourceVirtualStorageType;
            GUID ResiliencyGuid;
            PCWSTR SourceLimitPath;
            VIRTUAL_STORAGE_TYPE BackingStorageType;
        } Version3;
        struct
        {
            GUID UniqueId;
            ULONGLONG MaximumSize;
            ULONG BlockSizeInBytes;
            ULONG SectorSizeInBytes;
            ULONG PhysicalSectorSizeInBytes;
            PCWSTR ParentPath;
            PCWSTR SourcePath;
            OPEN_VIRTUAL_DISK_FLAG OpenFlags;
            VIRTUAL_STORAGE_TYPE ParentVirtualStorageType;
            VIRTUAL_STORAGE_TYPE SourceVirtualStorageType;
            GUID ResiliencyGuid;
            PCWSTR SourceLimitPath;
            VIRTUAL_STORAGE_TYPE BackingStorageType;
            GUID PmemAddressAbstractionType;
            ULONGLONG DataAlignment;
        } Version4;
    };
} CREATE_VIRTUAL_DISK_PARAMETERS, *PCREATE_VIRTUAL_DISK_PARAMETERS;

typedef enum _ATTACH_VIRTUAL_DISK_FLAG
{
    ATTACH_VIRTUAL_DISK_FLAG_NONE = 0x0,
    ATTACH_VIRTUAL_DISK_FLAG_READ_ONLY = 0x1,
    ATTACH_VIRTUAL_DISK_FLAG_NO_DRIVE_LETTER = 0x2,
    ATTACH_VIRTUAL_DISK_FLAG_PERMANENT_LIFETIME = 0x4,
    ATTACH_VIRTUAL_DISK_FLAG_NO_LOCAL_HOST = 0x8,
    ATTACH_VIRTUAL_DISK_FLAG_NO_SECURITY_DESCRIPTOR = 0x10,
    ATTACH_VIRTUAL_DISK_FLAG_BYPASS_DEFAULT_ENCRYPTION_POLICY = 0x20,
} ATTACH_VIRTUAL_DISK_FLAG;

typedef enum _ATTACH_VIRTUAL_DISK_VERSION
{
    ATTACH_VIRTUAL_DISK_VERSION_UNSPECIFIED = 0,
    ATTACH_VIRTUAL_DISK_VERSION_1 = 1,
    ATTACH_VIRTUAL_DISK_VERSION_2 = 2,
} ATTACH_VIRTUAL_DISK_VERSION;

typedef struct _ATTACH_VIRTUAL_DISK_PARAMETERS
{
    ATTACH_VIRTUAL_DISK_VERSION Version;
    union
    {
        struct { ULONG Reserved; } Version1;
        struct { ULONGLONG RestrictedOffset; ULONGLONG RestrictedLength; } Version2;
    };
} ATTACH_VIRTUAL_DISK_PARAMETERS, *PATTACH_VIRTUAL_DISK_PARAMETERS;

typedef enum _DETACH_VIRTUAL_DISK_FLAG { DETACH_VIRTUAL_DISK_FLAG_NONE = 0x0 } DETACH_VIRTUAL_DISK_FLAG;

typedef enum _COMPACT_VIRTUAL_DISK_FLAG
{
    COMPACT_VIRTUAL_DISK_FLAG_NONE = 0x0,
    COMPACT_VIRTUAL_DISK_FLAG_NO_ZERO_SCAN = 0x1,
    COMPACT_VIRTUAL_DISK_FLAG_NO_BLOCK_MOVES = 0x2,
} COMPACT_VIRTUAL_DISK_FLAG;

typedef enum _COMPACT_VIRTUAL_DISK_VERSION
{
    COMPACT_VIRTUAL_DISK_VERSION_UNSPECIFIED = 0,
    COMPACT_VIRTUAL_DISK_VERSION_1 = 1,
} COMPACT_VIRTUAL_DISK_VERSION;

typedef struct _COMPACT_VIRTUAL_DISK_PARAMETERS
{
    COMPACT_VIRTUAL_DISK_VERSION Version;
    union { struct { ULONG Reserved; } Version1; };
} COMPACT_VIRTUAL_DISK_PARAMETERS, *PCOMPACT_VIRTUAL_DISK_PARAMETERS;

typedef enum _MERGE_VIRTUAL_DISK_FLAG { MERGE_VIRTUAL_DISK_FLAG_NONE = 0x0 } MERGE_VIRTUAL_DISK_FLAG;

typedef enum _MERGE_VIRTUAL_DISK_VERSION
{
    MERGE_VIRTUAL_DISK_VERSION_UNSPECIFIED = 0,
    MERGE_VIRTUAL_DISK_VERSION_1 = 1,
    MERGE_VIRTUAL_DISK_VERSION_2 = 2,
} MERGE_VIRTUAL_DISK_VERSION;

#define MERGE_VIRTUAL_DISK_DEFAULT_MERGE_DEPTH 1

typedef struct _MERGE_VIRTUAL_DISK_PARAMETERS
{
    MERGE_VIRTUAL_DISK_VERSION Version;
    union
    {
        struct { ULONG MergeDepth; } Version1;
        struct { ULONG MergeSourceDepth; ULONG MergeTargetDepth; } Version2;
    };
} MERGE_VIRTUAL_DISK_PARAMETERS, *PMERGE_VIRTUAL_DISK_PARAMETERS;

typedef enum _EXPAND_VIRTUAL_DISK_FLAG { EXPAND_VIRTUAL_DISK_FLAG_NONE = 0x0 } EXPAND_VIRTUAL_DISK_FLAG;

typedef enum _EXPAND_VIRTUAL_DISK_VERSION
{
    EXPAND_VIRTUAL_DISK_VERSION_UNSPECIFIED = 0,
    EXPAND_VIRTUAL_DISK_VERSION_1 = 1,
} EXPAND_VIRTUAL_DISK_VERSION;

typedef struct _EXPAND_VIRTUAL_DISK_PARAMETERS
{
    EXPAND_VIRTUAL_DISK_VERSION Version;
    union { struct { ULONGLONG NewSize; } Version1; };
} EXPAND_VIRTUAL_DISK_PARAMETERS, *PEXPAND_VIRTUAL_DISK_PARAMETERS;

typedef enum _RESIZE_VIRTUAL_DISK_FLAG
{
    RESIZE_VIRTUAL_DISK_FLAG_NONE = 0x0,
    RESIZE_VIRTUAL_DISK_FLAG_ALLOW_UNSAFE_VIRTUAL_SIZE = 0x1,
    RESIZE_VIRTUAL_DISK_FLAG_RESIZE_TO_SMALLEST_SAFE_VIRTUAL_SIZE = 0x2,
} RESIZE_VIRTUAL_DISK_FLAG;

typedef enum _RESIZE_VIRTUAL_DISK_VERSION
{
    RESIZE_VIRTUAL_DISK_VERSION_UNSPECIFIED = 0,
    RESIZE_VIRTUAL_DISK_VERSION_1 = 1,
} RESIZE_VIRTUAL_DISK_VERSION;

typedef struct _RESIZE_VIRTUAL_DISK_PARAMETERS
{
    RESIZE_VIRTUAL_DISK_VERSION Version;
    union { struct { ULONGLONG NewSize; } Version1; };
} RESIZE_VIRTUAL_DISK_PARAMETERS, *PRESIZE_VIRTUAL_DISK_PARAMETERS;

typedef struct _VIRTUAL_DISK_PROGRESS
{
    DWORD OperationStatus;
    ULONGLONG CurrentValue;
    ULONGLONG CompletionValue;
} VIRTUAL_DISK_PROGRESS, *PVIRTUAL_DISK_PROGRESS;

typedef enum _GET_VIRTUAL_DISK_INFO_VERSION
{
    GET_VIRTUAL_DISK_INFO_UNSPECIFIED = 0,
    GET_VIRTUAL_DISK_INFO_SIZE = 1,
    GET_VIRTUAL_DISK_INFO_IDENTIFIER = 2,
    GET_VIRTUAL_DISK_INFO_PARENT_LOCATION = 3,
    GET_VIRTUAL_DISK_INFO_PARENT_IDENTIFIER = 4,
    GET_VIRTUAL_DISK_INFO_PARENT_TIMESTAMP = 5,
    GET_VIRTUAL_DISK_INFO_VIRTUAL_STORAGE_TYPE = 6,
    GET_VIRTUAL_DISK_INFO_PROVIDER_SUBTYPE = 7,
    GET_VIRTUAL_DISK_INFO_IS_4K_ALIGNED = 8,
    GET_VIRTUAL_DISK_INFO_PHYSICAL_DISK = 9,
    GET_VIRTUAL_DISK_INFO_VHD_PHYSICAL_SECTOR_SIZE = 10,
    GET_VIRTUAL_DISK_INFO_SMALLEST_SAFE_VIRTUAL_SIZE = 11,
    GET_VIRTUAL_DISK_INFO_FRAGMENTATION = 12,
    GET_VIRTUAL_DISK_INFO_IS_LOADED = 13,
    GET_VIRTUAL_DISK_INFO_VIRTUAL_DISK_ID = 14,
    GET_VIRTUAL_DISK_INFO_CHANGE_TRACKING_STATE = 15,
} GET_VIRTUAL_DISK_INFO_VERSION;

typedef struct _GET_VIRTUAL_DISK_INFO
{
    GET_VIRTUAL_DISK_INFO_VERSION Version;
    union
    {
        struct { ULONGLONG VirtualSize; ULONGLONG PhysicalSize; ULONG BlockSize; ULONG SectorSize; } Size;
        GUID Identifier;
        struct { BOOL ParentResolved; WCHAR ParentLocationBuffer[1]; } ParentLocation;
        GUID ParentIdentifier;
        ULONG ParentTimestamp;
        VIRTUAL_STORAGE_TYPE VirtualStorageType;
        ULONG ProviderSubtype;
        BOOL Is4kAligned;
        BOOL IsLoaded;
        struct { ULONG LogicalSectorSize; ULONG PhysicalSectorSize; BOOL IsRemote; } PhysicalDisk;
        ULONG VhdPhysicalSectorSize;
        ULONGLONG SmallestSafeVirtualSize;
        ULONG FragmentationPercentage;
        GUID VirtualDiskId;
        struct { BOOL Enabled; BOOL NewerChanges; WCHAR MostRecentId[1]; } ChangeTrackingState;
    };
} GET_VIRTUAL_DISK_INFO, *PGET_VIRTUAL_DISK_INFO;

typedef enum _SET_VIRTUAL_DISK_INFO_VERSION
{
    SET_VIRTUAL_DISK_INFO_UNSPECIFIED = 0,
    SET_VIRTUAL_DISK_INFO_PARENT_PATH = 1,
    SET_VIRTUAL_DISK_INFO_IDENTIFIER = 2,
    SET_VIRTUAL_DISK_INFO_PARENT_PATH_WITH_DEPTH = 3,
    SET_VIRTUAL_DISK_INFO_PHYSICAL_SECTOR_SIZE = 4,
    SET_VIRTUAL_DISK_INFO_VIRTUAL_DISK_ID = 5,
    SET_VIRTUAL_DISK_INFO_CHANGE_TRACKING_STATE = 6,
    SET_VIRTUAL_DISK_INFO_PARENT_LOCATOR = 7,
} SET_VIRTUAL_DISK_INFO_VERSION;

typedef struct _SET_VIRTUAL_DISK_INFO
{
    SET_VIRTUAL_DISK_INFO_VERSION Version;
    union
    {
        PCWSTR ParentFilePath;
        GUID UniqueIdentifier;
        struct { ULONG ChildDepth; PCWSTR ParentFilePath; } ParentPathWithDepthInfo;
        ULONG VhdPhysicalSectorSize;
        GUID VirtualDiskId;
        BOOL ChangeTrackingEnabled;
        struct { GUID LinkageId; PCWSTR ParentFilePath; } ParentLocator;
    };
} SET_VIRTUAL_DISK_INFO, *PSET_VIRTUAL_DISK_INFO;

typedef enum _DEPENDENT_DISK_FLAG
{
    DEPENDENT_DISK_FLAG_NONE = 0x0,
    DEPENDENT_DISK_FLAG_MULT_BACKING_FILES = 0x1,
    DEPENDENT_DISK_FLAG_FULLY_ALLOCATED = 0x2,
    DEPENDENT_DISK_FLAG_READ_ONLY = 0x4,
    DEPENDENT_DISK_FLAG_REMOTE = 0x8,
    DEPENDENT_DISK_FLAG_SYSTEM_VOLUME = 0x10,
    DEPENDENT_DISK_FLAG_SYSTEM_VOLUME_PARENT = 0x20,
    DEPENDENT_DISK_FLAG_REMOVABLE = 0x40,
    DEPENDENT_DISK_FLAG_NO_DRIVE_LETTER = 0x80,
    DEPENDENT_DISK_FLAG_PARENT = 0x100,
    DEPENDENT_DISK_FLAG_NO_HOST_DISK = 0x200,
    DEPENDENT_DISK_FLAG_PERMANENT_LIFETIME = 0x400,
} DEPENDENT_DISK_FLAG;

typedef enum _GET_STORAGE_DEPENDENCY_FLAG
{
    GET_STORAGE_DEPENDENCY_FLAG_NONE = 0x0,
    GET_STORAGE_DEPENDENCY_FLAG_HOST_VOLUMES = 0x1,
    GET_STORAGE_DEPENDENCY_FLAG_PARENTS = 0x1,
    GET_STORAGE_DEPENDENCY_FLAG_DISK_HANDLE = 0x2,
} GET_STORAGE_DEPENDENCY_FLAG;

typedef enum _STORAGE_DEPENDENCY_INFO_VERSION
{
    STORAGE_DEPENDENCY_INFO_VERSION_UNSPECIFIED = 0,
    STORAGE_DEPENDENCY_INFO_VERSION_1 = 1,
    STORAGE_DEPENDENCY_INFO_VERSION_2 = 2,
} STORAGE_DEPENDENCY_INFO_VERSION;

typedef struct _STORAGE_DEPENDENCY_INFO_TYPE_1
{
    DEPENDENT_DISK_FLAG DependencyTypeFlags;
    ULONG ProviderSpecificFlags;
    VIRTUAL_STORAGE_TYPE VirtualStorageType;
} STORAGE_DEPENDENCY_INFO_TYPE_1, *PSTORAGE_DEPENDENCY_INFO_TYPE_1;

typedef struct _STORAGE_DEPENDENCY_INFO_TYPE_2
{
    DEPENDENT_DISK_FLAG DependencyTypeFlags;
    ULONG ProviderSpecificFlags;
    VIRTUAL_STORAGE_TYPE VirtualStorageType;
    ULONG AncestorLevel;
    PWSTR DependencyDeviceName;
    PWSTR HostVolumeName;
    PWSTR DependentVolumeName;
    PWSTR DependentVolumeRelativePath;
} STORAGE_DEPENDENCY_INFO_TYPE_2, *PSTORAGE_DEPENDENCY_INFO_TYPE_2;

typedef struct _STORAGE_DEPENDENCY_INFO
{
    STORAGE_DEPENDENCY_INFO_VERSION Version;
    ULONG NumberEntries;
    union
    {
        STORAGE_DEPENDENCY_INFO_TYPE_1 Version1Entries[1];
        STORAGE_DEPENDENCY_INFO_TYPE_2 Version2Entries[1];
    };
} STORAGE_DEPENDENCY_INFO, *PSTORAGE_DEPENDENCY_INFO;

typedef enum _MIRROR_VIRTUAL_DISK_FLAG
{
    MIRROR_VIRTUAL_DISK_FLAG_NONE = 0x0,
    MIRROR_VIRTUAL_DISK_FLAG_EXISTING_FILE = 0x1,
} MIRROR_VIRTUAL_DISK_FLAG;

typedef enum _MIRROR_VIRTUAL_DISK_VERSION
{
    MIRROR_VIRTUAL_DISK_VERSION_UNSPECIFIED = 0,
    MIRROR_VIRTUAL_DISK_VERSION_1 = 1,
} MIRROR_VIRTUAL_DISK_VERSION;

typedef struct _MIRROR_VIRTUAL_DISK_PARAMETERS
{
    MIRROR_VIRTUAL_DISK_VERSION Version;
    union { struct { PCWSTR MirrorVirtualDiskPath; } Version1; };
} MIRROR_VIRTUAL_DISK_PARAMETERS, *PMIRROR_VIRTUAL_DISK_PARAMETERS;

VDSSHIM_VIRTDISKAPI DWORD WINAPI OpenVirtualDisk(PVIRTUAL_STORAGE_TYPE type, PCWSTR path, VIRTUAL_DISK_ACCESS_MASK mask,
                                                 OPEN_VIRTUAL_DISK_FLAG flags, POPEN_VIRTUAL_DISK_PARAMETERS params,
                                                 PHANDLE handle);
VDSSHIM_VIRTDISKAPI DWORD WINAPI CreateVirtualDisk(PVIRTUAL_STORAGE_TYPE type, PCWSTR path,
                                                   VIRTUAL_DISK_ACCESS_MASK mask, PSECURITY_DESCRIPTOR sd,
                                                   CREATE_VIRTUAL_DISK_FLAG flags, ULONG provider_flags,
                                                   PCREATE_VIRTUAL_DISK_PARAMETERS params, LPOVERLAPPED overlapped,
                                                   PHANDLE handle);
VDSSHIM_VIRTDISKAPI DWORD WINAPI AttachVirtualDisk(HANDLE handle, PSECURITY_DESCRIPTOR sd, ATTACH_VIRTUAL_DISK_FLAG flags,
                                                   ULONG provider_flags, PATTACH_VIRTUAL_DISK_PARAMETERS params,
                                                   LPOVERLAPPED overlapped);
VDSSHIM_VIRTDISKAPI DWORD WINAPI DetachVirtualDisk(HANDLE handle, DETACH_VIRTUAL_DISK_FLAG flags, ULONG provider_flags);
VDSSHIM_VIRTDISKAPI DWORD WINAPI GetVirtualDiskPhysicalPath(HANDLE handle, PULONG size, PWSTR path);
VDSSHIM_VIRTDISKAPI DWORD WINAPI GetAllAttachedVirtualDiskPhysicalPaths(PULONG size, PWSTR paths);
VDSSHIM_VIRTDISKAPI DWORD WINAPI GetStorageDependencyInformation(HANDLE handle, GET_STORAGE_DEPENDENCY_FLAG flags,
                                                                 ULONG size, PSTORAGE_DEPENDENCY_INFO info,
                                                                 PULONG used);
VDSSHIM_VIRTDISKAPI DWORD WINAPI GetVirtualDiskInformation(HANDLE handle, PULONG size, PGET_VIRTUAL_DISK_INFO info,
                                                           PULONG used);
VDSSHIM_VIRTDISKAPI DWORD WINAPI SetVirtualDiskInformation(HANDLE handle, PSET_VIRTUAL_DISK_INFO info);
VDSSHIM_VIRTDISKAPI DWORD WINAPI EnumerateVirtualDiskMetadata(HANDLE handle, PULONG count, GUID *items);
VDSSHIM_VIRTDISKAPI DWORD WINAPI GetVirtualDiskMetadata(HANDLE handle, const GUID *item, PULONG size, PVOID data);
VDSSHIM_VIRTDISKAPI DWORD WINAPI SetVirtualDiskMetadata(HANDLE handle, const GUID *item, ULONG size, PVOID data);
VDSSHIM_VIRTDISKAPI DWORD WINAPI DeleteVirtualDiskMetadata(HANDLE handle, const GUID *item);
VDSSHIM_VIRTDISKAPI DWORD WINAPI GetVirtualDiskOperationProgress(HANDLE handle, LPOVERLAPPED overlapped,
                                                                 PVIRTUAL_DISK_PROGRESS progress);
VDSSHIM_VIRTDISKAPI DWORD WINAPI CompactVirtualDisk(HANDLE handle, COMPACT_VIRTUAL_DISK_FLAG flags,
                                                    PCOMPACT_VIRTUAL_DISK_PARAMETERS params, LPOVERLAPPED overlapped);
VDSSHIM_VIRTDISKAPI DWORD WINAPI MergeVirtualDisk(HANDLE handle, MERGE_VIRTUAL_DISK_FLAG flags,
                                                  PMERGE_VIRTUAL_DISK_PARAMETERS params, LPOVERLAPPED overlapped);
VDSSHIM_VIRTDISKAPI DWORD WINAPI ExpandVirtualDisk(HANDLE handle, EXPAND_VIRTUAL_DISK_FLAG flags,
                                                   PEXPAND_VIRTUAL_DISK_PARAMETERS params, LPOVERLAPPED overlapped);
VDSSHIM_VIRTDISKAPI DWORD WINAPI ResizeVirtualDisk(HANDLE handle, RESIZE_VIRTUAL_DISK_FLAG flags,
                                                   PRESIZE_VIRTUAL_DISK_PARAMETERS params, LPOVERLAPPED overlapped);
VDSSHIM_VIRTDISKAPI DWORD WINAPI MirrorVirtualDisk(HANDLE handle, MIRROR_VIRTUAL_DISK_FLAG flags,
                                                   PMIRROR_VIRTUAL_DISK_PARAMETERS params, LPOVERLAPPED overlapped);
VDSSHIM_VIRTDISKAPI DWORD WINAPI BreakMirrorVirtualDisk(HANDLE handle);
VDSSHIM_VIRTDISKAPI DWORD WINAPI AddVirtualDiskParent(HANDLE handle, PCWSTR parent);

#ifdef __cplusplus
}
#endif

#endif
